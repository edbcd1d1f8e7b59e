#include "runtime/plot/Svg.h"

#include "runtime/support/File.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sys/stat.h>

namespace aoarm::plot {

namespace {

// Layout of one panel, in SVG user units (px).
constexpr double kPlotWidth = 480;
constexpr double kPlotHeight = 300;
constexpr double kMarginLeft = 80;   // y tick labels and the y label
constexpr double kMarginTop = 40;    // the chart title
constexpr double kMarginBottom = 56; // x tick labels and the x label
constexpr double kLegendGap = 16;    // plot area to legend
constexpr double kMarginRight = 16;
constexpr double kLegendRow = 18;
constexpr double kCharWidth = 7; // a guess for 12px sans-serif, for widths
constexpr double kFigureTitleHeight = 32;
constexpr double kMarkerRadius = 3;

// Tableau 10: distinct for the usual colour-vision deficiencies.
constexpr const char *kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                    "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                    "#9c755f", "#bab0ac"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
// Once the colours repeat, the dash pattern tells the series apart.
constexpr const char *kDashes[] = {"", "6 3", "2 2", "8 3 2 3"};

/// A coordinate or length, fixed decimals so the output is deterministic.
std::string num(double v) { return fmt::format("{:.2f}", v); }

/// Characters (UTF-8 code points) of `text`, for width estimates.
size_t displayLength(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text)
    n += (c & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

/// The pieces of one axis: where it ends and which ticks it shows.
struct Axis {
  double lo = 0;
  double hi = 1;
  double step = 1;
  std::vector<double> ticks;
};

Axis makeAxis(double dataLo, double dataHi, const AxisLimits &limits) {
  double lo = limits.min.value_or(dataLo);
  double hi = limits.max.value_or(dataHi);
  std::vector<double> ticks = niceTicks(std::min(lo, hi), std::max(lo, hi));
  Axis axis;
  axis.step = ticks.size() >= 2 ? ticks[1] - ticks[0] : 1;
  axis.lo = limits.min ? *limits.min : ticks.front();
  axis.hi = limits.max ? *limits.max : ticks.back();
  if (axis.lo >= axis.hi) {
    // One end is fixed and the data lie beyond it: give the free end one step.
    if (limits.max)
      axis.lo = axis.hi - axis.step;
    else
      axis.hi = axis.lo + axis.step;
  }
  if (limits.min || limits.max) {
    ticks = niceTicks(axis.lo, axis.hi);
    axis.step = ticks.size() >= 2 ? ticks[1] - ticks[0] : axis.step;
  }
  const double tolerance = std::fabs(axis.step) * 1e-9;
  for (double t : ticks)
    if (t >= axis.lo - tolerance && t <= axis.hi + tolerance)
      axis.ticks.push_back(t);
  return axis;
}

Status checkChart(const LineChart &chart) {
  const std::string name = fmt::format("chart '{}'", chart.title);
  if (chart.series.empty())
    return Status::errorf("{}: no series to draw", name);
  for (const AxisLimits *limits : {&chart.xLimits, &chart.yLimits}) {
    const char *axis = limits == &chart.xLimits ? "x" : "y";
    for (const std::optional<double> &end : {limits->min, limits->max})
      if (end && !std::isfinite(*end))
        return Status::errorf("{}: {} axis limit {} is not finite", name, axis,
                              *end);
    if (limits->min && limits->max && !(*limits->min < *limits->max))
      return Status::errorf("{}: {} axis limits must have min < max, got {} "
                            "and {}",
                            name, axis, *limits->min, *limits->max);
  }
  for (const Series &series : chart.series) {
    if (series.points.empty())
      return Status::errorf("{}: series '{}' has no points", name, series.name);
    for (size_t i = 0; i < series.points.size(); ++i) {
      const Point &p = series.points[i];
      if (!std::isfinite(p.x) || !std::isfinite(p.y))
        return Status::errorf("{}: series '{}': point {} ({}, {}) is not "
                              "finite",
                              name, series.name, i, p.x, p.y);
    }
  }
  return Status::ok();
}

/// The width of a panel's legend column.
double legendWidth(const LineChart &chart) {
  size_t longest = 0;
  for (const Series &series : chart.series)
    longest = std::max(longest, displayLength(series.name));
  return 44 + kCharWidth * static_cast<double>(longest);
}

double panelWidth(const LineChart &chart) {
  return kMarginLeft + kPlotWidth + kLegendGap + legendWidth(chart) +
         kMarginRight;
}

double panelHeight(const LineChart &chart) {
  const double legend =
      kLegendRow * static_cast<double>(chart.series.size()) + 12;
  return kMarginTop + std::max(kPlotHeight, legend) + kMarginBottom;
}

/// Appends panel `index` (its clip path is named after it) as a group at
/// (`left`, `top`).
void renderPanel(std::string &out, const LineChart &chart, size_t index,
                 double left, double top) {
  double xLo = INFINITY, xHi = -INFINITY, yLo = INFINITY, yHi = -INFINITY;
  for (const Series &series : chart.series)
    for (const Point &p : series.points) {
      xLo = std::min(xLo, p.x);
      xHi = std::max(xHi, p.x);
      yLo = std::min(yLo, p.y);
      yHi = std::max(yHi, p.y);
    }
  const Axis xAxis = makeAxis(xLo, xHi, chart.xLimits);
  const Axis yAxis = makeAxis(yLo, yHi, chart.yLimits);
  const double x0 = kMarginLeft, x1 = kMarginLeft + kPlotWidth;
  const double y0 = kMarginTop, y1 = kMarginTop + kPlotHeight;
  auto px = [&](double x) {
    return x0 + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * kPlotWidth;
  };
  auto py = [&](double y) {
    return y1 - (y - yAxis.lo) / (yAxis.hi - yAxis.lo) * kPlotHeight;
  };
  const std::string clipId = fmt::format("plot-area-{}", index);

  out +=
      fmt::format("<g transform=\"translate({},{})\">\n", num(left), num(top));
  // The clip leaves room for a marker on the frame to show whole.
  out += fmt::format("<clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" "
                     "width=\"{}\" height=\"{}\"/></clipPath>\n",
                     clipId, num(x0 - kMarkerRadius), num(y0 - kMarkerRadius),
                     num(kPlotWidth + 2 * kMarkerRadius),
                     num(kPlotHeight + 2 * kMarkerRadius));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                     "font-size=\"14\" font-weight=\"bold\">{}</text>\n",
                     num((x0 + x1) / 2), num(y0 - 14), xmlEscape(chart.title));

  // Grid lines and tick labels.
  out += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double t : xAxis.ticks)
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n",
                       num(px(t)), num(y0), num(y1));
  for (double t : yAxis.ticks)
    out += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\"/>\n",
                       num(py(t)), num(x0), num(x1));
  out += "</g>\n";
  const double xScale =
      std::max(std::fabs(xAxis.ticks.front()), std::fabs(xAxis.ticks.back()));
  const double yScale =
      std::max(std::fabs(yAxis.ticks.front()), std::fabs(yAxis.ticks.back()));
  out += "<g font-size=\"12\" fill=\"#333333\">\n";
  for (double t : xAxis.ticks)
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}"
                       "</text>\n",
                       num(px(t)), num(y1 + 18),
                       xmlEscape(formatTick(t, xAxis.step, xScale)));
  for (double t : yAxis.ticks)
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}"
                       "</text>\n",
                       num(x0 - 6), num(py(t) + 4),
                       xmlEscape(formatTick(t, yAxis.step, yScale)));
  out += "</g>\n";

  // The frame and the axis labels.
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
                     "fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n",
                     num(x0), num(y0), num(kPlotWidth), num(kPlotHeight));
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" "
                     "font-size=\"13\">{}</text>\n",
                     num((x0 + x1) / 2), num(y1 + 42), xmlEscape(chart.xLabel));
  const double yLabelX = 18, yLabelY = (y0 + y1) / 2;
  out += fmt::format("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" "
                     "font-size=\"13\" transform=\"rotate(-90 {0} {1})\">{2}"
                     "</text>\n",
                     num(yLabelX), num(yLabelY), xmlEscape(chart.yLabel));

  // The series, clipped to the plot area.
  out += fmt::format("<g clip-path=\"url(#{})\" fill=\"none\" "
                     "stroke-width=\"1.5\">\n",
                     clipId);
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const Series &series = chart.series[s];
    const char *colour = kPalette[s % kPaletteSize];
    const char *dash = kDashes[(s / kPaletteSize) % 4];
    std::string points;
    for (const Point &p : series.points) {
      if (!points.empty())
        points += ' ';
      points += num(px(p.x)) + "," + num(py(p.y));
    }
    out += fmt::format("<polyline stroke=\"{}\"{} points=\"{}\"><title>{}"
                       "</title></polyline>\n",
                       colour,
                       *dash ? fmt::format(" stroke-dasharray=\"{}\"", dash)
                             : std::string(),
                       points, xmlEscape(series.name));
    if (series.points.size() <= kMaxMarkers)
      for (const Point &p : series.points)
        out +=
            fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" "
                        "stroke=\"none\"/>\n",
                        num(px(p.x)), num(py(p.y)), num(kMarkerRadius), colour);
  }
  out += "</g>\n";

  // The legend, right of the plot area.
  const double lx = x1 + kLegendGap, ly = y0;
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
      "fill=\"#ffffff\" stroke=\"#cccccc\"/>\n",
      num(lx), num(ly), num(legendWidth(chart)),
      num(kLegendRow * static_cast<double>(chart.series.size()) + 12));
  out += "<g font-size=\"12\">\n";
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const char *colour = kPalette[s % kPaletteSize];
    const char *dash = kDashes[(s / kPaletteSize) % 4];
    const double y = ly + 15 + kLegendRow * static_cast<double>(s);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" "
                       "stroke=\"{}\" stroke-width=\"1.5\"{}/>\n",
                       num(lx + 8), num(y), num(lx + 32), num(y), colour,
                       *dash ? fmt::format(" stroke-dasharray=\"{}\"", dash)
                             : std::string());
    if (chart.series[s].points.size() <= kMaxMarkers)
      out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>\n",
                         num(lx + 20), num(y), num(kMarkerRadius), colour);
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(lx + 38),
                       num(y + 4), xmlEscape(chart.series[s].name));
  }
  out += "</g>\n</g>\n";
}

} // namespace

std::vector<double> niceTicks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double range = hi - lo;
  if (!std::isfinite(range) || target < 2)
    return {lo, hi};
  // Heckbert's nice numbers: the step nearest range / (target - 1) among 1,
  // 2 and 5 times a power of ten.
  const double raw = range / (target - 1);
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / base;
  const double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * base;
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  if (!(last - first < 1000))
    return {lo, hi};
  std::vector<double> ticks;
  // Multiples of the step, not a running sum, so no error accumulates.
  for (double k = first; k <= last; k += 1)
    ticks.push_back(k * step);
  return ticks;
}

std::string formatTick(double value, double step, double scale) {
  double unit = 1;
  const char *suffix = "";
  if (scale >= 1e9) {
    unit = 1e9;
    suffix = "G";
  } else if (scale >= 1e6) {
    unit = 1e6;
    suffix = "M";
  } else if (scale >= 1e4) {
    unit = 1e3;
    suffix = "k";
  }
  const double v = value / unit, s = std::fabs(step) / unit;
  if (s == 0 || std::fabs(v) < s * 1e-9)
    return "0";
  const int decimals =
      std::clamp(static_cast<int>(-std::floor(std::log10(s) + 1e-9)), 0, 12);
  return fmt::format("{:.{}f}{}", v, decimals, suffix);
}

std::string xmlEscape(std::string_view text) {
  static const char kReplacement[] = "\xef\xbf\xbd"; // U+FFFD
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n')
          out += kReplacement;
        else
          out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence (RFC 3629): no overlong forms, no surrogates, nothing
    // above U+10FFFF; U+FFFE and U+FFFF are not XML characters either.
    size_t length = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xe0) == 0xc0) {
      length = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, cp = c & 0x07, min = 0x10000;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) {
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      valid = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    valid = valid && cp >= min && cp <= 0x10ffff &&
            !(cp >= 0xd800 && cp <= 0xdfff) && cp != 0xfffe && cp != 0xffff;
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

StatusOr<std::string> renderSvg(const Figure &figure) {
  if (figure.panels.empty())
    return Status::errorf("figure '{}': no charts to draw", figure.title);
  double width = 0, height = 0;
  for (const LineChart &chart : figure.panels) {
    AOARM_RETURN_IF_ERROR(checkChart(chart));
    width += panelWidth(chart);
    height = std::max(height, panelHeight(chart));
  }
  const double titleHeight = figure.title.empty() ? 0 : kFigureTitleHeight;
  height += titleHeight;

  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
  out += "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
         "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n";
  out += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" "
                     "version=\"1.1\" width=\"{0}\" height=\"{1}\" "
                     "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\">\n",
                     num(width), num(height));
  std::string title = figure.title;
  if (title.empty())
    for (const LineChart &chart : figure.panels)
      title += (title.empty() ? "" : "; ") + chart.title;
  out += fmt::format("<title>{}</title>\n", xmlEscape(title));
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" "
                     "fill=\"#ffffff\"/>\n",
                     num(width), num(height));
  if (!figure.title.empty())
    out += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" "
                       "font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                       num(width / 2), xmlEscape(figure.title));
  double left = 0;
  for (size_t i = 0; i < figure.panels.size(); ++i) {
    renderPanel(out, figure.panels[i], i, left, titleHeight);
    left += panelWidth(figure.panels[i]);
  }
  out += "</svg>\n";
  return out;
}

StatusOr<std::string> renderSvg(const LineChart &chart) {
  Figure figure;
  figure.panels.push_back(chart);
  return renderSvg(figure);
}

Status writeSvgFile(const std::string &path, std::string_view svg,
                    bool overwrite, const std::string &forceFlag) {
  struct stat info;
  if (!overwrite && ::stat(path.c_str(), &info) == 0)
    return Status::errorf("{}: already exists{}", path,
                          forceFlag.empty()
                              ? std::string()
                              : "; pass " + forceFlag + " to overwrite it");
  return writeFileAtomically(path, svg, overwrite);
}

} // namespace aoarm::plot
