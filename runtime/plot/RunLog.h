// The validation curve of a training run, read from its RUNDIR/log.jsonl
// (format: runtime/train/Trainer.h, docs/training.md), for `aoarm plot`.
//
// The first line must be the "config" line; its settings give the batch size
// and the sequence length, so tokens seen at step s are s * batch * seq_len
// (every step trains on batch crops of seq_len characters). "eval" lines of
// the valid split give the points. A resumed run appends a "resume" line and
// runs its steps again after it: an eval of a step already logged replaces
// the earlier one (a resumed run is bit-identical, so both agree on the CPU).
// Lines of other types, and keys this reader does not know, are ignored.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace aoarm::plot {

/// One validation measurement.
struct EvalPoint {
  int64_t step = 0;
  double bitsPerChar = 0;
};

/// What a run's log holds for plotting.
struct RunCurve {
  std::string logPath;
  int64_t batchSize = 0; // settings.batch
  int64_t seqLen = 0;    // settings.seq_len
  /// The valid-split evaluations with a finite bpc, by increasing step.
  std::vector<EvalPoint> evals;
  /// Valid-split eval lines whose bpc was null (NaN or infinite), left out.
  int64_t nonFiniteEvals = 0;
  /// Lines a kill tore, passed over: a last line without its newline that
  /// does not parse (also a line still being written), or one that does not
  /// parse right before a "resume" line.
  int64_t tornLines = 0;

  /// Training tokens seen after `step` steps: step * batch * seq_len.
  double tokensSeen(int64_t step) const {
    return static_cast<double>(step) * static_cast<double>(batchSize) *
           static_cast<double>(seqLen);
  }
};

/// Reads RUNDIR/log.jsonl. Refuses a missing directory or log, a line that
/// is not a JSON object (naming the file and the 1-based line) unless it is
/// a torn line (see RunCurve::tornLines), a log whose
/// first line is not a config line with positive integer settings.batch and
/// settings.seq_len, an eval line without an integer step, and a log without
/// a finite valid-split evaluation.
StatusOr<RunCurve> readRunLog(const std::string &runDir);

/// The legend name of each run directory: its last path component ("runs/d1/"
/// -> "d1"; "." -> the current folder's name), or the path as given when two
/// runs share a last component.
std::vector<std::string> runNames(const std::vector<std::string> &runDirs);

} // namespace aoarm::plot
