// The SVG line-chart writer (runtime/plot/Svg.h): its output is well-formed
// XML (checked by a small parser below), holds one <polyline> per series,
// escapes text, is deterministic, and refuses charts it cannot draw.
#include "runtime/plot/Svg.h"

#include "tests/unit/TestSupport.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace aoarm::plot {
namespace {

using testsupport::TempDir;

/// Checks that `xml` is well-formed for what the writer emits: a prolog
/// (<?xml?>, <!DOCTYPE>), then one root element; elements balanced; each
/// attribute `name="value"` once per element; no raw '<' in values or text;
/// '&' only as a known entity or a character reference. Returns "" or what
/// is wrong.
std::string xmlProblem(const std::string &xml) {
  size_t i = 0;
  std::vector<std::string> open;
  int roots = 0;
  auto isName = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
           c == ':' || c == '_' || c == '.';
  };
  auto checkText = [](const std::string &text) -> std::string {
    for (size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '<')
        return "raw '<' in text or value";
      if (text[k] != '&')
        continue;
      size_t semi = text.find(';', k);
      if (semi == std::string::npos)
        return "unterminated entity";
      std::string entity = text.substr(k + 1, semi - k - 1);
      if (entity != "amp" && entity != "lt" && entity != "gt" &&
          entity != "quot" && entity != "apos" &&
          !(entity.size() > 1 && entity[0] == '#'))
        return "unknown entity &" + entity + ";";
    }
    return "";
  };
  while (i < xml.size()) {
    size_t lt = xml.find('<', i);
    std::string text =
        xml.substr(i, lt == std::string::npos ? xml.npos : lt - i);
    if (std::string p = checkText(text); !p.empty())
      return p;
    if (open.empty() && text.find_first_not_of(" \n\t\r") != std::string::npos)
      return "text outside the root element";
    if (lt == std::string::npos)
      break;
    if (xml.compare(lt, 5, "<?xml") == 0) {
      if (lt != 0)
        return "xml declaration not first";
      i = xml.find("?>", lt) + 2;
      continue;
    }
    if (xml.compare(lt, 9, "<!DOCTYPE") == 0) {
      if (roots > 0 || !open.empty())
        return "doctype after the root";
      i = xml.find('>', lt) + 1;
      continue;
    }
    size_t gt = xml.find('>', lt);
    if (gt == std::string::npos)
      return "unterminated tag";
    std::string tag = xml.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (!tag.empty() && tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1))
        return "mismatched end tag </" + tag.substr(1) + ">";
      open.pop_back();
      continue;
    }
    const bool selfClosing = !tag.empty() && tag.back() == '/';
    if (selfClosing)
      tag.pop_back();
    size_t k = 0;
    while (k < tag.size() && isName(tag[k]))
      ++k;
    std::string name = tag.substr(0, k);
    if (name.empty())
      return "element without a name";
    std::vector<std::string> attributes;
    while (true) {
      while (k < tag.size() && tag[k] == ' ')
        ++k;
      if (k == tag.size())
        break;
      size_t start = k;
      while (k < tag.size() && isName(tag[k]))
        ++k;
      std::string attribute = tag.substr(start, k - start);
      if (attribute.empty() || k + 1 >= tag.size() || tag[k] != '=' ||
          tag[k + 1] != '"')
        return "malformed attribute in <" + name + ">";
      size_t close = tag.find('"', k + 2);
      if (close == std::string::npos)
        return "unterminated attribute value in <" + name + ">";
      if (std::string p = checkText(tag.substr(k + 2, close - k - 2));
          !p.empty())
        return p;
      for (const std::string &seen : attributes)
        if (seen == attribute)
          return "duplicate attribute " + attribute;
      attributes.push_back(attribute);
      k = close + 1;
    }
    if (open.empty())
      ++roots;
    if (roots > 1)
      return "more than one root element";
    if (!selfClosing)
      open.push_back(name);
  }
  if (!open.empty())
    return "unclosed <" + open.back() + ">";
  if (roots != 1)
    return "no root element";
  return "";
}

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1))
    ++n;
  return n;
}

LineChart threeSeries() {
  LineChart chart;
  chart.title = "Loss & <friends>";
  chart.xLabel = "step";
  chart.yLabel = "bits per character";
  chart.series = {{"drope", {{0, 3.2}, {100, 2.5}, {200, 2.1}}},
                  {"a<b & \"c\"", {{0, 3.3}, {100, 2.7}}},
                  {"one point", {{150, 2.2}}}};
  return chart;
}

TEST(SvgTest, ChecksItsOwnChecker) {
  EXPECT_EQ(xmlProblem("<a><b/></a>"), "");
  EXPECT_NE(xmlProblem("<a><b></a>"), "");
  EXPECT_NE(xmlProblem("<a x=\"1\" x=\"2\"/>"), "");
  EXPECT_NE(xmlProblem("<a>&nbsp;</a>"), "");
  EXPECT_NE(xmlProblem("<a/><b/>"), "");
  EXPECT_NE(xmlProblem("<a t=\"x<y\"/>"), "");
}

TEST(SvgTest, ChartIsWellFormedSvgWithOnePolylinePerSeries) {
  auto svg = renderSvg(threeSeries());
  ASSERT_TRUE(svg) << svg.status().message();
  EXPECT_EQ(xmlProblem(*svg), "") << *svg;
  EXPECT_EQ(svg->rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"", 0), 0u);
  EXPECT_NE(svg->find("<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\""),
            std::string::npos);
  EXPECT_NE(svg->find("<svg xmlns=\"http://www.w3.org/2000/svg\" "
                      "version=\"1.1\""),
            std::string::npos);
  EXPECT_EQ(count(*svg, "<polyline"), 3u);
  // Markers on every point and one in each legend entry.
  EXPECT_EQ(count(*svg, "<circle"), 6u + 3u);
  // Text is escaped, in the title, the legend and the tooltips.
  EXPECT_NE(svg->find("Loss &amp; &lt;friends&gt;"), std::string::npos);
  EXPECT_NE(svg->find(">a&lt;b &amp; &quot;c&quot;</text>"), std::string::npos);
  EXPECT_NE(svg->find(">bits per character</text>"), std::string::npos);
  EXPECT_NE(svg->find(">step</text>"), std::string::npos);
}

TEST(SvgTest, OutputIsDeterministic) {
  auto a = renderSvg(threeSeries());
  auto b = renderSvg(threeSeries());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST(SvgTest, TicksAreNiceAndCoverTheData) {
  auto svg = renderSvg(threeSeries());
  ASSERT_TRUE(svg);
  // y from 2.1 to 3.3: ticks 2.0 to 3.4 in steps of 0.2; x 0 to 200 by 50.
  for (const char *label : {">2.0</text>", ">2.2</text>", ">3.4</text>",
                            ">0</text>", ">50</text>", ">200</text>"})
    EXPECT_NE(svg->find(label), std::string::npos) << label;
}

TEST(SvgTest, NiceTicks) {
  std::vector<double> unit = niceTicks(0, 1);
  ASSERT_EQ(unit.size(), 6u);
  for (size_t i = 0; i < unit.size(); ++i)
    EXPECT_NEAR(unit[i], 0.2 * static_cast<double>(i), 1e-12);
  std::vector<double> t = niceTicks(1.62, 3.14);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_DOUBLE_EQ(t.front(), 1.5);
  EXPECT_DOUBLE_EQ(t.back(), 3.5);
  // One value: widened around it.
  std::vector<double> one = niceTicks(2, 2);
  EXPECT_LE(one.front(), 1.8);
  EXPECT_GE(one.back(), 2.2);
  std::vector<double> zero = niceTicks(0, 0);
  EXPECT_LE(zero.front(), -1);
  EXPECT_GE(zero.back(), 1);
  std::vector<double> big = niceTicks(0, 1.7e6);
  EXPECT_DOUBLE_EQ(big[1] - big[0], 5e5);
}

TEST(SvgTest, TickLabels) {
  EXPECT_EQ(formatTick(0.30000000000000004, 0.1, 1), "0.3");
  EXPECT_EQ(formatTick(2, 0.5, 3), "2.0");
  EXPECT_EQ(formatTick(1e-17, 0.2, 1), "0");
  EXPECT_EQ(formatTick(-0.0, 1, 1), "0");
  EXPECT_EQ(formatTick(150, 50, 200), "150");
  EXPECT_EQ(formatTick(20000, 5000, 40000), "20k");
  EXPECT_EQ(formatTick(1.5e6, 5e5, 2e6), "1.5M");
  EXPECT_EQ(formatTick(3e9, 1e9, 4e9), "3G");
}

TEST(SvgTest, XmlEscape) {
  EXPECT_EQ(xmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(xmlEscape("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(xmlEscape("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(xmlEscape("\xc3"), "\xef\xbf\xbd");                 // cut sequence
  EXPECT_EQ(xmlEscape("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"); // overlong
  EXPECT_EQ(xmlEscape("\xed\xa0\x80").substr(0, 3),
            "\xef\xbf\xbd"); // surrogate
  EXPECT_EQ(xmlEscape(std::string("a\x01"
                                  "b",
                                  3)),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(xmlEscape("tab\tnew\nline"), "tab\tnew\nline");
}

TEST(SvgTest, FigureDrawsPanelsSideBySide) {
  Figure figure{"Two <panels>", {threeSeries(), threeSeries()}};
  auto svg = renderSvg(figure);
  ASSERT_TRUE(svg) << svg.status().message();
  EXPECT_EQ(xmlProblem(*svg), "");
  EXPECT_EQ(count(*svg, "<polyline"), 6u);
  EXPECT_EQ(count(*svg, "<clipPath id=\"plot-area-0\""), 1u);
  EXPECT_EQ(count(*svg, "<clipPath id=\"plot-area-1\""), 1u);
  EXPECT_NE(svg->find("<title>Two &lt;panels&gt;</title>"), std::string::npos);
}

TEST(SvgTest, LongSeriesHaveNoMarkersAndFixedLimitsHoldTheAxis) {
  LineChart chart;
  chart.title = "frontier";
  Series many{"many", {}};
  for (size_t i = 0; i <= kMaxMarkers; ++i)
    many.points.push_back({0.3 + 0.001 * static_cast<double>(i), 0.5});
  chart.series = {many};
  chart.xLimits = {0.0, 1.0};
  chart.yLimits = {0.0, 1.0};
  auto svg = renderSvg(chart);
  ASSERT_TRUE(svg) << svg.status().message();
  EXPECT_EQ(xmlProblem(*svg), "");
  EXPECT_EQ(count(*svg, "<circle"), 0u);
  for (const char *label : {">0</text>", ">0.2</text>", ">1.0</text>"})
    EXPECT_NE(svg->find(label), std::string::npos) << label;
  EXPECT_EQ(svg->find(">1.2</text>"), std::string::npos);
}

TEST(SvgTest, ManySeriesCycleColoursWithDashes) {
  LineChart chart;
  chart.title = "many";
  for (int s = 0; s < 12; ++s)
    chart.series.push_back({fmt::format("s{}", s), {{0, 1.0 * s}, {1, 2.0}}});
  auto svg = renderSvg(chart);
  ASSERT_TRUE(svg);
  EXPECT_EQ(xmlProblem(*svg), "");
  EXPECT_EQ(count(*svg, "<polyline"), 12u);
  EXPECT_EQ(count(*svg, "<polyline stroke=\"#4e79a7\" stroke-dasharray"), 1u);
}

TEST(SvgTest, RefusesChartsItCannotDraw) {
  LineChart empty;
  empty.title = "t";
  EXPECT_EQ(renderSvg(empty).status().message(),
            "chart 't': no series to draw");
  LineChart noPoints = empty;
  noPoints.series = {{"run", {}}};
  EXPECT_EQ(renderSvg(noPoints).status().message(),
            "chart 't': series 'run' has no points");
  LineChart nan = empty;
  nan.series = {{"run", {{0, 1}, {1, std::nan("")}}}};
  EXPECT_EQ(renderSvg(nan).status().message(),
            "chart 't': series 'run': point 1 (1, nan) is not finite");
  LineChart limits = threeSeries();
  limits.title = "t";
  limits.yLimits = {1.0, 1.0};
  EXPECT_EQ(renderSvg(limits).status().message(),
            "chart 't': y axis limits must have min < max, got 1 and 1");
  EXPECT_EQ(renderSvg(Figure{"f", {}}).status().message(),
            "figure 'f': no charts to draw");
}

TEST(SvgTest, WriterRefusesToOverwriteUnlessTold) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("c.svg");
  ASSERT_TRUE(writeSvgFile(path, "<svg/>\n", false).isOk());
  Status again = writeSvgFile(path, "<svg></svg>\n", false);
  EXPECT_EQ(again.message(),
            path + ": already exists; pass --force to overwrite it");
  ASSERT_TRUE(writeSvgFile(path, "<svg></svg>\n", true).isOk());
  std::stringstream read;
  read << std::ifstream(path).rdbuf();
  EXPECT_EQ(read.str(), "<svg></svg>\n");
}

} // namespace
} // namespace aoarm::plot
