#include "codegen/kernels/LoweringSupport.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace aoarm::kernels {

std::string shapeText(const TensorInfo &t) {
  std::string s = "[";
  for (size_t i = 0; i < t.shape.size(); ++i)
    s += (i ? ", " : "") +
         (t.shape[i] == -1 ? std::string("B") : std::to_string(t.shape[i]));
  return s + "]" + (t.isInt ? " i32" : t.bf16 ? " bf16" : " f32");
}

std::string doubleBits(double value) {
  unsigned long long bits = 0;
  static_assert(sizeof bits == sizeof value);
  std::memcpy(&bits, &value, sizeof bits);
  char text[32];
  std::snprintf(text, sizeof text, "0x%016llxULL", bits);
  return text;
}

std::nullopt_t RequestCheck::fail(const std::string &what) const {
  if (error_)
    *error_ = request_.kernel + ": " + what;
  return std::nullopt;
}

bool RequestCheck::counts(size_t inputs, size_t outputs) const {
  if (request_.inputs.size() == inputs && request_.outputs.size() == outputs)
    return true;
  fail("expects " + std::to_string(inputs) + " inputs and " +
       std::to_string(outputs) + " outputs, got " +
       std::to_string(request_.inputs.size()) + " and " +
       std::to_string(request_.outputs.size()));
  return false;
}

std::optional<int64_t> RequestCheck::intAttr(const std::string &name,
                                             int64_t lo) const {
  auto it = request_.attrs.find(name);
  if (it == request_.attrs.end())
    return fail("missing attribute '" + name + "'");
  const char *text = it->second.c_str();
  char *end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < lo ||
      value > INT_MAX)
    return fail("attribute " + name + "=" + it->second +
                (lo == 1 ? std::string(" is not a positive integer")
                         : " is not an integer in [" + std::to_string(lo) +
                               ", " + std::to_string(INT_MAX) + "]"));
  return value;
}

std::optional<double>
RequestCheck::positiveRealAttr(const std::string &name) const {
  auto it = request_.attrs.find(name);
  if (it == request_.attrs.end())
    return fail("missing attribute '" + name + "'");
  const char *text = it->second.c_str();
  char *end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(value) ||
      value <= 0)
    return fail("attribute " + name + "=" + it->second +
                " is not a positive number");
  return value;
}

} // namespace aoarm::kernels
