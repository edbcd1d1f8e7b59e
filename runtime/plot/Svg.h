// Line charts written as standalone SVG 1.1 files, by the runtime itself (no
// plotting library): the learning curves of `aoarm plot` and the
// coherence-diversity frontier.
//
// A chart is data only (a title, axis labels, named series of points); the
// renderer owns the layout. Each axis spans the data widened to "nice" tick
// values (steps of 1, 2 or 5 times a power of ten) unless the chart fixes
// its ends. Each series is one <polyline> in a colour of a fixed palette
// (series 11 and on add a dash pattern), with a marker on every point when it
// has at most kMaxMarkers points, and one legend entry; points outside fixed
// axis ends are clipped to the plot area. The output is a pure function of
// the chart: the same chart gives the same bytes, on any machine (numbers
// are printed with fixed decimals). Every text is XML-escaped and invalid
// UTF-8 is replaced by U+FFFD, so the file is always well-formed XML.
#pragma once

#include "runtime/support/Status.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aoarm::plot {

/// A series with more points than this is drawn without markers.
inline constexpr size_t kMaxMarkers = 50;

struct Point {
  double x = 0;
  double y = 0;
};

/// One named line, drawn through its points in the order given.
struct Series {
  std::string name;
  std::vector<Point> points;
};

/// Fixed ends of an axis; an end left empty follows the data.
struct AxisLimits {
  std::optional<double> min;
  std::optional<double> max;
};

/// One chart: a plot area with two labelled axes, the series and a legend.
struct LineChart {
  std::string title;
  std::string xLabel;
  std::string yLabel;
  std::vector<Series> series;
  AxisLimits xLimits;
  AxisLimits yLimits;
};

/// Charts side by side in one SVG, under an optional title.
struct Figure {
  std::string title;
  std::vector<LineChart> panels;
};

/// The SVG document of one chart. Refuses a chart without series, a series
/// without points, a non-finite coordinate and fixed axis ends with min >=
/// max, naming the chart, the series and the point.
StatusOr<std::string> renderSvg(const LineChart &chart);
/// The SVG document of several charts in a row, with the same checks.
StatusOr<std::string> renderSvg(const Figure &figure);

/// Writes an SVG document to `path` atomically (temporary file, fsync,
/// rename). Refuses an existing `path` unless `overwrite`, saying which flag
/// would allow it when `forceFlag` is given ("--force").
Status writeSvgFile(const std::string &path, std::string_view svg,
                    bool overwrite, const std::string &forceFlag = "--force");

// The pieces, exposed for tests.

/// Tick values covering [lo, hi] (lo <= hi) at a nice step, about `target`
/// of them: the first at or below lo, the last at or above hi. When lo == hi
/// the range is widened around the value first.
std::vector<double> niceTicks(double lo, double hi, int target = 6);
/// A tick label: fixed decimals enough for `step`, with a k, M or G suffix
/// when `scale` (the largest absolute tick) is 10^4 or more.
std::string formatTick(double value, double step, double scale);
/// `text` made safe for XML character data and attribute values: & < > " '
/// escaped, control characters (except tab and newline) and invalid UTF-8
/// replaced by U+FFFD.
std::string xmlEscape(std::string_view text);

} // namespace aoarm::plot
