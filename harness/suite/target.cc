#include "harness/suite/target.h"

#include <algorithm>

#include "base/files.h"
#include "harness/suite/connections.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// ParseDeviations reads the array `list`, found at `path` in `file`.
Status ParseDeviations(const json& list, const std::string& path, const std::string& file,
                       std::vector<Deviation>& out) {
  if (!list.is_array()) {
    return MakeError(
        ErrorCode::kInvalidInput,
        path + std::string(": want an array of {scenario, reason}, got ") + JsonTypeName(list));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    JsonFields f(list[i], path + "[" + std::to_string(i) + "]");
    Deviation d;
    d.origin = file + ": " + path + "[" + std::to_string(i) + "]";
    d.scenario = f.String("scenario");
    d.reason = f.String("reason");
    if (f.ok() && d.reason.find_first_not_of(" \t") == std::string::npos) {
      f.Fail("reason", "empty (every known deviation says why)");
    }
    Status status = f.Finish();
    if (!status.ok()) {
      return status;
    }
    out.push_back(std::move(d));
  }
  return Status::Ok();
}

// LoadDeviations reads a deviations file: {"deviations": [{"scenario", "reason"}, ...]}.
Result<std::vector<Deviation>> LoadDeviations(const fs::path& path) {
  Result<json> doc = LoadJsonFile(path);
  if (!doc.ok()) {
    return doc.take_error();
  }
  FieldRecorder::Document kind("deviations");
  JsonFields f(*doc, "");
  ReadFormatKeys(f, 1);
  f.String("description", /*required=*/false);
  const json* list = f.Array("deviations", /*required=*/true);
  std::vector<Deviation> out;
  Status status = f.Finish();
  if (status.ok() && list != nullptr) {
    status = ParseDeviations(*list, "deviations", path.string(), out);
  }
  if (!status.ok()) {
    return Prefixed(path.string(), status.take_error());
  }
  return out;
}

// CheckPlaceholders accepts the placeholders a job can fill: {config}, {workdir}, {log},
// {build}, {data}, {host}, {port:CONNECTION}, {ca:CONNECTION}.
Status CheckPlaceholders(std::string_view text, bool trigger = false) {
  std::map<std::string, std::string> values;
  if (trigger) {
    values["connection"] = "";
  }
  for (const char* name : {"config", "workdir", "log", "build", "data", "host"}) {
    values[name] = "";
  }
  for (std::string_view connection : kPlaceholderConnections) {
    values["port:" + std::string(connection)] = "";
    values["ca:" + std::string(connection)] = "";
  }
  Result<std::string> expanded = ExpandPlaceholders(text, values);
  if (!expanded.ok()) {
    return expanded.take_error();
  }
  return Status::Ok();
}

}  // namespace

const char* CapabilityName(Capability capability) {
  switch (capability) {
    case Capability::kTls13:
      return "tls1.3";
    case Capability::kIpLiteralHost:
      return "ip-literal-host";
  }
  return "?";
}

bool TargetDescriptor::Lacks(Capability capability) const {
  return std::find(lacks.begin(), lacks.end(), capability) != lacks.end();
}

bool TriggerSpec::PerConnection() const {
  return std::any_of(argv.begin(), argv.end(), [](const std::string& arg) {
    return arg.find("{connection}") != std::string::npos;
  });
}

const Deviation* TargetDescriptor::FindDeviation(std::string_view scenario_id) const {
  for (const Deviation& d : deviations) {
    if (GlobMatch(d.scenario, scenario_id)) {
      return &d;
    }
  }
  return nullptr;
}

Status CheckDeviations(const TargetDescriptor& target, const std::vector<Scenario>& scenarios) {
  for (const Deviation& d : target.deviations) {
    bool used = std::any_of(scenarios.begin(), scenarios.end(), [&](const Scenario& s) {
      return s.AppliesTo(target.product) && GlobMatch(d.scenario, s.id);
    });
    if (!used) {
      return MakeError(ErrorCode::kInvalidInput,
                       d.origin + ".scenario: \"" + Printable(d.scenario) + "\" matches no " +
                           ProductName(target.product) +
                           " scenario of the suite (renamed or removed? fpconform list)");
    }
  }
  return Status::Ok();
}

namespace {

// ProgramBesideDescriptor makes a relative program path (one holding a '/' that starts with
// neither '/' nor a placeholder) absolute against `base`, the descriptor's directory, so that
// it means the same from any working directory and in the job's work directory; braces of
// `base` are doubled so that they stay literal. A plain name (searched in PATH), an absolute
// path and a path that starts with a placeholder are left as they are.
void ProgramBesideDescriptor(const fs::path& base, std::string* program) {
  if (program->empty() || program->find('/') == std::string::npos || program->front() == '/' ||
      program->front() == '{') {
    return;
  }
  std::error_code ec;
  fs::path dir = fs::absolute(base.empty() ? fs::path(".") : base, ec);
  if (ec) {
    return;
  }
  std::string escaped;
  for (char c : dir.lexically_normal().string()) {
    escaped += c == '{' ? std::string("{{") : std::string(1, c);
  }
  if (escaped.empty() || escaped.back() != '/') {
    escaped += '/';
  }
  *program = escaped + *program;
}

}  // namespace

Result<TargetDescriptor> ParseTargetDescriptor(std::string_view text, const fs::path& file) {
  Result<json> doc = ParseJsonText(text, file.string());
  if (!doc.ok()) {
    return doc.take_error();
  }
  TargetDescriptor t;
  t.file = file.string();
  t.name = file.stem().string();
  FieldRecorder::Document kind("target-descriptor");
  JsonFields f(*doc, "");
  ReadFormatKeys(f, 1);
  // "name": what reports call the target (default: the file name without .json).
  if (std::optional<std::string> name = f.OptionalString("name")) {
    bool plain = !name->empty() && name->size() <= 64 &&
                 name->find_first_not_of(
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == std::string::npos;
    if (!plain) {
      f.Fail("name",
             "want 1 to 64 letters, digits, '.', '_' or '-', got \"" + Printable(*name) + "\"");
    }
    t.name = *name;
  }
  t.description = f.String("description");
  std::string product = f.Choice("product", {"ems", "lsr", "client"}, "");
  if (f.ok() && product.empty()) {
    f.Fail("product", "missing (want \"ems\", \"lsr\" or \"client\")");
  }
  t.product = ParseProduct(product).value_or(Product::kEms);
  t.argv = f.StringList("argv", /*required=*/true);
  if (f.ok() && t.argv.empty()) {
    f.Fail("argv", "empty (want the program and its arguments)");
  }
  const fs::path base = file.parent_path();
  // A plain name inside the work directory: not empty (except for a client, which may take
  // none), no '/', not "." or ".." (the work directory or its parent), no NUL.
  auto plain_file_name = [](const std::string& name) {
    return !name.empty() && name != "." && name != ".." &&
           name.find_first_of(std::string("/\0", 2)) == std::string::npos;
  };
  if (t.product == Product::kClient) {
    t.config_file = f.String("config_file", /*required=*/false);
    if (f.ok() && !t.config_file.empty() && !plain_file_name(t.config_file)) {
      f.Fail("config_file", "want a plain file name, got \"" + Printable(t.config_file) + "\"");
    }
  } else {
    t.config_file = f.OptionalString("config_file")
                        .value_or(t.product == Product::kEms ? "config.json" : "config.lua");
    if (f.ok() && !plain_file_name(t.config_file)) {
      f.Fail("config_file", "want a plain file name, got \"" + Printable(t.config_file) + "\"");
    }
  }
  if (std::optional<std::string> templ = f.OptionalString("template")) {
    t.config_template = fs::path(*templ).is_absolute() ? fs::path(*templ) : base / *templ;
  }
  t.lifecycle = f.Choice("lifecycle", {"daemon", "one-shot"}, "daemon") == "one-shot"
                    ? Lifecycle::kOneShot
                    : Lifecycle::kDaemon;
  t.exit_status_reports = f.Bool("exit_status_reports", false);
  if (f.ok() && t.exit_status_reports && t.lifecycle != Lifecycle::kOneShot) {
    f.Fail("exit_status_reports", "only one-shot targets report through their exit status");
  }
  if (const json* timeouts = f.Object("timeouts_ms")) {
    JsonFields tf(*timeouts, "timeouts_ms");
    t.startup_timeout = std::chrono::milliseconds(tf.Integer("startup", 3000, 50, 600000));
    t.observe_timeout = std::chrono::milliseconds(tf.Integer("observe", 5000, 50, 600000));
    t.grace = std::chrono::milliseconds(tf.Integer("grace", 500, 0, 60000));
    t.settle = std::chrono::milliseconds(tf.Integer("settle", 200, 0, 60000));
    t.retry = std::chrono::milliseconds(tf.Integer("retry", 250, 0, 600000));
    Status status = tf.Finish();
    if (!status.ok()) {
      f.Absorb(status.error());
    }
  }
  t.log_file = f.String("log_file", /*required=*/false);
  if (const json* trigger = f.Object("trigger")) {
    JsonFields tf(*trigger, "trigger");
    TriggerSpec spec;
    spec.argv = tf.StringList("argv", /*required=*/true);
    spec.when =
        tf.Choice("when", {"after-start", "after-platform"}, "after-start") == "after-platform"
            ? TriggerSpec::When::kAfterPlatform
            : TriggerSpec::When::kAfterStart;
    spec.ready = tf.Choice("ready", {"none", "listener"}, "none") == "listener"
                     ? TriggerSpec::Ready::kListener
                     : TriggerSpec::Ready::kNone;
    spec.retry = tf.Bool("retry", false);
    Status status = tf.Finish();
    if (!status.ok()) {
      f.Absorb(status.error());
    }
    t.trigger = std::move(spec);
  }
  if (const json* env = f.Object("env")) {
    for (auto it = env->begin(); it != env->end(); ++it) {
      if (!it->is_string()) {
        f.Fail("env." + it.key(), std::string("want a string, got ") + JsonTypeName(*it));
        break;
      }
      if (it.key().empty() || it.key().find_first_of(std::string("=\0", 2)) != std::string::npos) {
        f.Fail("env", "\"" + Printable(it.key()) +
                          "\" is not a variable name (empty, or holds '=' or NUL)");
        break;
      }
      t.env.emplace_back(it.key(), it->get<std::string>());
    }
  }
  // A deviations file's own errors name that file, so they are returned as they are.
  std::optional<Error> deviations_error;
  if (const json* deviations = f.Any("deviations")) {
    if (deviations->is_string()) {
      Result<std::vector<Deviation>> list = LoadDeviations(base / deviations->get<std::string>());
      if (list.ok()) {
        t.deviations = std::move(*list);
      } else {
        // Named from the descriptor's field, since the file may not even exist; the file
        // name comes from the descriptor, so a "\n" in it must not split the line.
        deviations_error = list.take_error();
        deviations_error->message =
            file.string() + ": deviations: " + Printable(deviations_error->message);
      }
    } else {
      Status status = ParseDeviations(*deviations, "deviations", file.string(), t.deviations);
      if (!status.ok()) {
        f.Absorb(status.error());
      }
    }
  }
  t.filters = f.StringList("filters");
  const std::vector<std::string> lacks = f.StringList("lacks");
  for (size_t i = 0; i < lacks.size(); ++i) {
    bool known = false;
    for (Capability c : {Capability::kTls13, Capability::kIpLiteralHost}) {
      if (lacks[i] == CapabilityName(c)) {
        known = true;
        if (!t.Lacks(c)) {
          t.lacks.push_back(c);
        }
      }
    }
    if (!known) {
      f.Fail("lacks[" + std::to_string(i) + "]",
             "unknown capability \"" + Printable(lacks[i]) + "\" (known: tls1.3, ip-literal-host)");
      break;
    }
  }
  Status status = f.Finish();
  if (!status.ok()) {
    return Prefixed(file.string(), status.take_error());
  }
  if (deviations_error) {
    return *deviations_error;
  }
  // Every text the runner expands: a bad placeholder is the descriptor's error, found now
  // rather than once per scenario.
  std::vector<std::pair<std::string, const std::string*>> templated;
  const size_t trigger_first = t.argv.size() + 1;  // argv, log_file, then the trigger's
  for (size_t i = 0; i < t.argv.size(); ++i) {
    templated.emplace_back("argv[" + std::to_string(i) + "]", &t.argv[i]);
  }
  templated.emplace_back("log_file", &t.log_file);
  if (t.trigger) {
    for (size_t i = 0; i < t.trigger->argv.size(); ++i) {
      templated.emplace_back("trigger.argv[" + std::to_string(i) + "]", &t.trigger->argv[i]);
    }
  }
  for (const auto& [name, value] : t.env) {
    templated.emplace_back("env." + Printable(name), &value);
  }
  for (size_t i = 0; i < templated.size(); ++i) {
    const auto& [field, value] = templated[i];
    const bool in_trigger =
        t.trigger && i >= trigger_first && i < trigger_first + t.trigger->argv.size();
    Status placeholders = CheckPlaceholders(*value, in_trigger);
    if (!placeholders.ok()) {
      return Prefixed(file.string() + ": " + field, placeholders.take_error());
    }
  }
  ProgramBesideDescriptor(base, &t.argv[0]);
  if (t.trigger && !t.trigger->argv.empty()) {
    ProgramBesideDescriptor(base, &t.trigger->argv[0]);
  }
  return t;
}

Result<TargetDescriptor> LoadTargetDescriptor(const fs::path& file) {
  Result<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return text.take_error();
  }
  return ParseTargetDescriptor(*text, file);
}

namespace {

// DescriptorFiles lists the descriptor files under `target_dirs` (deviations files left
// out), sorted; a directory that does not exist is skipped.
Result<std::vector<fs::path>> DescriptorFiles(const std::vector<fs::path>& target_dirs) {
  std::vector<fs::path> files;
  for (const fs::path& dir : target_dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      continue;
    }
    std::vector<fs::path> here;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      if (it->is_regular_file() && p.extension() == ".json" &&
          p.filename().string().find(".deviations.") == std::string::npos) {
        here.push_back(p);
      }
    }
    if (ec) {
      return MakeError(ErrorCode::kIo, dir.string() + ": " + ec.message());
    }
    std::sort(here.begin(), here.end());
    files.insert(files.end(), here.begin(), here.end());
  }
  return files;
}

}  // namespace

Result<TargetDescriptor> ResolveTarget(std::string_view name_or_path,
                                       const std::vector<fs::path>& target_dirs) {
  std::string arg(name_or_path);
  bool is_path = arg.find('/') != std::string::npos ||
                 (arg.size() > 5 && arg.compare(arg.size() - 5, 5, ".json") == 0);
  if (is_path) {
    return LoadTargetDescriptor(arg);
  }
  Result<std::vector<fs::path>> files = DescriptorFiles(target_dirs);
  if (!files.ok()) {
    return files.take_error();
  }
  for (const fs::path& file : *files) {
    if (file.filename() == arg + ".json") {
      Result<TargetDescriptor> t = LoadTargetDescriptor(file);
      if (t.ok()) {
        t->builtin = true;
      }
      return t;
    }
  }
  std::string searched;
  for (const fs::path& dir : target_dirs) {
    searched += (searched.empty() ? "" : ", ") + dir.string();
  }
  return MakeError(ErrorCode::kNotFound, "--target " + Printable(arg) +
                                             ": no built-in target of that name in " + searched +
                                             " (give a descriptor path to use your own)");
}

Result<std::vector<TargetDescriptor>> ListTargets(const std::vector<fs::path>& target_dirs) {
  Result<std::vector<fs::path>> files = DescriptorFiles(target_dirs);
  if (!files.ok()) {
    return files.take_error();
  }
  std::vector<TargetDescriptor> out;
  for (const fs::path& p : *files) {
    Result<TargetDescriptor> t = LoadTargetDescriptor(p);
    if (!t.ok()) {
      return t.take_error();
    }
    t->builtin = true;
    out.push_back(std::move(*t));
  }
  std::sort(out.begin(), out.end(),
            [](const TargetDescriptor& a, const TargetDescriptor& b) { return a.name < b.name; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].name == out[i - 1].name) {
      return MakeError(ErrorCode::kInvalidInput, out[i].file + ": duplicate target name '" +
                                                     out[i].name + "' (also " + out[i - 1].file +
                                                     ")");
    }
  }
  return out;
}

Result<std::string> ExpandPlaceholders(std::string_view text,
                                       const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidInput,
                       "\"" + Printable(text) + "\": unterminated '{' (write '{{' for a brace)");
    }
    std::string name(text.substr(i + 1, close - i - 1));
    auto it = values.find(name);
    if (it == values.end()) {
      std::string known;
      for (const auto& [key, value] : values) {
        known += (known.empty() ? "" : ", ") + ("{" + key + "}");
      }
      return MakeError(ErrorCode::kInvalidInput, "\"" + Printable(text) +
                                                     "\": unknown placeholder {" + Printable(name) +
                                                     "} (known here: " + known + ")");
    }
    out += it->second;
    i = close;
  }
  return out;
}

}  // namespace fpconform::harness
