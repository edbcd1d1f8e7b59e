// The memory plan's checker (codegen/MemoryPlan.h) on hand-made plans: it
// must catch two live buffers that overlap and a buffer outside its region,
// and accept reuse of a dead buffer's bytes. (The plans aoarmc makes for the
// reference models pass it: tests/models/plan.test.)
#include "codegen/MemoryPlan.h"

#include <gtest/gtest.h>

namespace aoarm {
namespace {

PlannedBuffer arena(int id, int64_t offset, int64_t bytes, int first,
                    int last) {
  PlannedBuffer b;
  b.id = id;
  b.region = Region::Arena;
  b.perRow = true;
  b.offset = offset;
  b.bytes = bytes;
  b.first = first;
  b.last = last;
  return b;
}

TEST(MemoryPlan, ReusingADeadBuffersBytesIsFine) {
  StepPlan plan;
  plan.arenaRowBytes = 512;
  plan.buffers = {arena(0, 0, 256, 0, 1), arena(1, 256, 256, 1, 2),
                  arena(2, 0, 256, 2, 3)}; // 0 is dead when 2 is written
  EXPECT_EQ(checkPlan(plan), "");
}

TEST(MemoryPlan, LiveBuffersThatOverlapAreCaught) {
  StepPlan plan;
  plan.arenaRowBytes = 512;
  plan.buffers = {arena(0, 0, 256, 0, 2), arena(1, 256, 256, 1, 2),
                  arena(2, 128, 256, 2, 3)}; // overlaps 0 and 1 at step 2
  EXPECT_EQ(checkPlan(plan), "buffers 0 and 2 are live together and overlap");
}

TEST(MemoryPlan, ABufferOutsideItsRegionIsCaught) {
  StepPlan plan;
  plan.arenaRowBytes = 256;
  plan.buffers = {arena(0, 0, 256, 0, 1), arena(1, 256, 256, 2, 3)};
  EXPECT_EQ(checkPlan(plan), "buffer 1 lies outside its region");
  plan.paramBytes = 64;
  PlannedBuffer grad = arena(2, 32, 64, 0, 0);
  grad.region = Region::Grads;
  plan.buffers = {grad};
  EXPECT_EQ(checkPlan(plan), "buffer 2 lies outside its region");
}

} // namespace
} // namespace aoarm
