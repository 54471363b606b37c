// Every file of a soak bundle rendered from soak.json (§8.3), by name.
#include "proofs/soak_renderers.h"
#include "proofs/soak_view.h"

namespace x0x::proofs {

std::map<std::string, std::string> render_soak_all(const nlohmann::json& soak) {
  bool pressure = soak_view::is_pubsub_pressure(soak);  // §5.8's own timeline and summary
  return {{"timeline.csv", pressure ? render_pubsub_pressure_timeline_csv(soak) : render_soak_timeline_csv(soak)},
          {"summary.md", pressure ? render_pubsub_pressure_summary_md(soak) : render_soak_summary_md(soak)},
          {"junit.xml", render_soak_junit(soak)},
          {"report.html", render_soak_report_html(soak)}};
}

}  // namespace x0x::proofs
