// Target descriptors (harness/targets/*.json): how to run one client binary.
//
// The schema is documented in harness/PORTING.md. A descriptor gives the product, the
// command line with placeholders, the configuration file and its base template, the
// lifecycle, the timeouts, where the log appears, an optional trigger command and the
// known deviations (each with a reason).
#ifndef FPCONFORM_HARNESS_TARGET_H_
#define FPCONFORM_HARNESS_TARGET_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "harness/suite/scenario.h"

namespace fpconform::harness {

// Lifecycle: whether the target keeps running after its connections.
enum class Lifecycle {
  kDaemon,   // keeps running until the harness stops it (wsems, luaScriptResource, fpref)
  kOneShot,  // makes its connections and exits (curl, openssl s_client)
};

// TriggerSpec: a command the harness runs to make the target dial its edge endpoints
// (PORTING.md, "Triggers").
struct TriggerSpec {
  enum class When { kAfterStart, kAfterPlatform };
  // Ready: what the harness waits for, after `when`, before the first run.
  enum class Ready {
    kNone,      // nothing
    kListener,  // the product's own listener ({port:http_server}) accepts a TCP connection
  };
  // Placeholders as in the target's argv, plus {connection}: with it, the trigger runs
  // once per edge connection of the scenario (edge, edge2, edge3), with that name.
  std::vector<std::string> argv;
  When when = When::kAfterStart;
  Ready ready = Ready::kNone;
  // A run that exits non-zero is repeated every 100 ms within the observe window.
  bool retry = false;
  // PerConnection is true when argv uses {connection}.
  bool PerConnection() const;
};

// Capability: something a product may lack without breaking any clause (PORTING.md,
// "Capabilities"); a scenario that needs it is not applicable to that product.
enum class Capability {
  kTls13,          // "tls1.3": TLS 1.3 (products that predate it)
  kIpLiteralHost,  // "ip-literal-host": an IP address as an endpoint's host
};

// CapabilityName returns "tls1.3" or "ip-literal-host".
const char* CapabilityName(Capability capability);

// Deviation: a known difference between the target and the suite, with its reason.
struct Deviation {
  std::string scenario;  // a scenario id or glob
  std::string reason;
  std::string origin;  // where it is written: "<file>: deviations[2]", for messages
};

// TargetDescriptor: one loaded descriptor.
struct TargetDescriptor {
  std::string name;  // the file name without .json
  std::string file;
  std::string description;
  Product product = Product::kEms;
  std::vector<std::string> argv;
  std::string config_file;                // file name in the work directory; empty: none
  std::filesystem::path config_template;  // base template; empty: the product's default
  Lifecycle lifecycle = Lifecycle::kDaemon;
  bool exit_status_reports = false;                 // one-shot: exit 0 exactly when all accepted
  std::chrono::milliseconds startup_timeout{3000};  // exits for invalid configs happen here
  std::chrono::milliseconds observe_timeout{5000};  // connections are judged within this
  std::chrono::milliseconds grace{500};             // SIGTERM to SIGKILL
  std::chrono::milliseconds settle{200};  // keeps_running scenarios: how long it must live on
  // After a rejection where an accept is wanted: how long to wait for a retry.
  std::chrono::milliseconds retry{250};
  std::string log_file;  // a path with placeholders; empty: no log
  std::optional<TriggerSpec> trigger;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<Deviation> deviations;
  std::vector<std::string> filters;  // scenario globs this target runs by default
  std::vector<Capability> lacks;     // what the product does not have
  bool builtin = false;              // found in harness/targets/

  // Lacks is true when the descriptor says the product does not have `capability`.
  bool Lacks(Capability capability) const;

  // FindDeviation returns the deviation that covers `scenario_id`, or nullptr.
  const Deviation* FindDeviation(std::string_view scenario_id) const;
};

// CheckDeviations returns an Error naming the first deviation of `target` whose scenario
// glob matches none of `scenarios` that apply to the target's product (a renamed or
// removed scenario would otherwise leave the entry silently unused).
Status CheckDeviations(const TargetDescriptor& target, const std::vector<Scenario>& scenarios);

// ParseTargetDescriptor parses a descriptor's text; `file` names it in errors and relative
// paths (template, deviations) are resolved against its directory.
Result<TargetDescriptor> ParseTargetDescriptor(std::string_view text,
                                               const std::filesystem::path& file);

// LoadTargetDescriptor reads and parses `file`.
Result<TargetDescriptor> LoadTargetDescriptor(const std::filesystem::path& file);

// ResolveTarget loads a target by name ("reference-ems": reference-ems.json in one of
// `target_dirs`, searched in order and recursively) or by path (anything with a '/' or
// ending in .json); the error names what was tried.
Result<TargetDescriptor> ResolveTarget(std::string_view name_or_path,
                                       const std::vector<std::filesystem::path>& target_dirs);

// ListTargets loads every descriptor in `target_dirs` (sorted by name), recursing into
// sub-directories; a directory that does not exist is skipped, the first bad file or a
// name found twice is an error.
Result<std::vector<TargetDescriptor>> ListTargets(
    const std::vector<std::filesystem::path>& target_dirs);

// ExpandPlaceholders replaces every {name} in `text` with values.at(name) ("{{" is a
// literal '{'); an unknown name is an error naming it and the known ones.
Result<std::string> ExpandPlaceholders(std::string_view text,
                                       const std::map<std::string, std::string>& values);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TARGET_H_
