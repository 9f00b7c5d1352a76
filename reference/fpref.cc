#include "reference/fpref.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "base/json_text.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

// The REST call an LSR makes to its EMS to learn whether the EMS is connected.
constexpr char kLsrRequestPath[] = "/Thingworx/Things/LocalEms/Properties/isConnected";

// HostHeader: the host as EndpointText writes it, so control bytes never reach the request
// (such a host does not resolve anyway).
std::string HostHeader(const std::string& host, int port) {
  return "Host: " + EndpointText(host, port) + "\r\n";
}

// WebSocketUpgradeRequest: how the EMS opens its connection to the platform (RFC 6455).
std::string WebSocketUpgradeRequest(const std::string& resource, const std::string& host,
                                    int port) {
  return "GET " + resource + " HTTP/1.1\r\n" + HostHeader(host, port) +
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         WebSocketKey() +
         "\r\n"
         "Sec-WebSocket-Version: 13\r\n"
         "\r\n";
}

// GetRequest: one plain request on a connection the server may close afterwards.
std::string GetRequest(const std::string& path, const std::string& host, int port,
                       const char* accept) {
  return "GET " + path + " HTTP/1.1\r\n" + HostHeader(host, port) + "Accept: " + accept +
         "\r\n"
         "Connection: close\r\n"
         "\r\n";
}

// AcceptedDetail says why an accepted connection was accepted, for DecisionLine.
std::string AcceptedDetail(const ConnectionPlan& plan, const Decision& decision) {
  if (!plan.tls) {
    if (plan.role == Role::kPlatform) {
      return " (no TLS: ws_connection.encryption is none)";
    }
    return plan.allowlist_configured ? " (plain HTTP, not checked, D7)" : " (plain HTTP)";
  }
  if (plan.policy.allowlist != nullptr) {
    return ": " + decision.text;
  }
  std::string checks = plan.policy.validate ? "" : "validation off, ";
  if (plan.role == Role::kPlatform) {
    return " (" + checks + "not pinned, C8)";
  }
  return " (" + checks + "no fingerprint_allowlist, C6)";
}

// VerdictWord names how a connection that was not accepted ended.
const char* VerdictWord(RejectReason reason) {
  switch (reason) {
    case RejectReason::kUnreachable:
      return "unreachable";
    case RejectReason::kTimeout:
      return "timeout";
    case RejectReason::kTls:
      return "failed";
    default:
      return "rejected";
  }
}

// Unpinned returns the policy of `plan` without the allowlist (and without CA validation
// when `validate` is false): what the mutants that reconnect without the pin use.
[[maybe_unused]] VerifyPolicy Unpinned(const ConnectionPlan& plan, bool validate) {
  VerifyPolicy policy = plan.policy;
  policy.allowlist = nullptr;
  policy.validate = policy.validate && validate;
  return policy;
}

// ConnectWith makes the connection of `plan` with a TLS context made for `policy`.
[[maybe_unused]] ExchangeResult ConnectWith(const ConnectionPlan& plan, const VerifyPolicy& policy,
                                            const ExchangeOptions& options) {
  Result<std::unique_ptr<TlsClientContext>> context = TlsClientContext::Create(policy);
  if (!context.ok()) {
    ExchangeResult failed;
    failed.decision.text = context.error().message;
    return failed;
  }
  return Exchange(plan.host, plan.port, context->get(), plan.request, options);
}

// AppendToLog appends `line` to the log file at `path`, if it can.
[[maybe_unused]] void AppendToLog(const std::filesystem::path& path, const std::string& line) {
  std::string text = line + "\n";
  if (std::FILE* log = std::fopen(path.c_str(), "a")) {
    std::fwrite(text.data(), 1, text.size(), log);
    std::fclose(log);
  }
}

// Pinned tells whether a connection of `plan` is checked against an allowlist.
[[maybe_unused]] bool Pinned(const ConnectionPlan& plan) {
  return plan.tls && plan.policy.allowlist != nullptr;
}

// SleepUnlessCancelled waits `duration`, or less when `cancel_fd` becomes readable; returns
// false when it did.
[[maybe_unused]] bool SleepUnlessCancelled(std::chrono::milliseconds duration, int cancel_fd) {
  pollfd pfd{cancel_fd, POLLIN, 0};
  int ready = poll(&pfd, cancel_fd >= 0 ? 1 : 0, static_cast<int>(duration.count()));
  return ready <= 0;
}

}  // namespace

const char* ProductName(Product product) { return product == Product::kEms ? "ems" : "lsr"; }

const char* RoleName(Role role) { return role == Role::kPlatform ? "platform" : "edge"; }

std::string EndpointText(const std::string& host, int port) {
  bool ipv6 = host.find(':') != std::string::npos;
  std::string shown = Printable(host);
  return (ipv6 ? "[" + shown + "]" : shown) + ":" + std::to_string(port);
}

Result<std::unique_ptr<ProductClient>> ProductClient::Load(Product product,
                                                           const std::filesystem::path& path) {
  std::unique_ptr<ProductClient> client(new ProductClient());
  client->product_ = product;
  if (product == Product::kEms) {
    Result<EmsConfig> config = LoadEmsConfig(path);
    if (!config.ok()) {
      return config.take_error();
    }
    client->ems_ = std::move(config).value();
    client->warnings_ = client->ems_->warnings;
    client->PlanEms();
  } else {
    Result<LsrConfig> config = LoadLsrConfig(path);
    if (!config.ok()) {
      return config.take_error();
    }
    client->lsr_ = std::move(config).value();
    client->warnings_ = client->lsr_->warnings;
    client->PlanLsr();
  }
  return client;
}

void ProductClient::PlanEms() {
  const EmsConfig& config = *ems_;
  auto policy_for = [&](const std::string& host, const std::vector<std::string>& ca_files,
                        const Allowlist* allowlist) {
    VerifyPolicy policy;
    policy.validate = config.validate;
    policy.allow_self_signed = config.allow_self_signed;
    policy.expected_host = config.disable_hostname_validation ? "" : host;
    policy.ca_files = ca_files;
    policy.allowlist = allowlist;
    return policy;
  };

  ConnectionPlan platform;
  platform.role = Role::kPlatform;
  platform.origin = "ws_servers[0]";
  platform.host = config.platform.host;
  platform.port = config.platform.port;
  platform.tls = config.platform_tls;
  platform.allowlist_configured = config.allowlist.has_value();
  // C8: the platform is never pinned, whatever the allowlist holds.
  platform.policy = policy_for(platform.host, config.cert_chain, nullptr);
  if constexpr (kMutant == Mutant::kPlatformCaFromHttpClientCaCerts) {
    // Mutant: one CA setting for every HTTPS client: http_client_ca_certs, when set, also
    // verifies the platform.
    if (!config.http_client_ca_certs.empty()) {
      platform.policy.ca_files = config.http_client_ca_certs;
    }
  }
  if constexpr (kMutant == Mutant::kPlatformPinned) {
    // Mutant: the platform gets the allowlist like every other TLS connection.
    platform.policy.allowlist = config.allowlist ? &*config.allowlist : nullptr;
  }
  if constexpr (kMutant == Mutant::kPlatformNoHostName) {
    // Mutant: the platform's host name is not checked.
    platform.policy.expected_host.clear();
  }
  platform.request = WebSocketUpgradeRequest(config.resource, platform.host, platform.port);
  plans_.push_back(std::move(platform));
  ca_keys_.push_back("certificates.cert_chain");

  // Edge endpoints are checked with http_client_ca_certs when it is set (C2).
  bool own_ca = !config.http_client_ca_certs.empty();
  if constexpr (kMutant == Mutant::kEdgeCaFromCertChain) {
    // Mutant: edge endpoints are validated with cert_chain, http_client_ca_certs unread.
    own_ca = false;
  }
  const std::vector<std::string>& edge_ca =
      own_ca ? config.http_client_ca_certs : config.cert_chain;
  const Allowlist* allowlist = config.allowlist ? &*config.allowlist : nullptr;
  for (size_t i = 0; i < config.auto_bind.size(); ++i) {
    const AutoBind& entry = config.auto_bind[i];
    if (entry.host.empty()) {
      continue;  // a Thing without an endpoint of its own: nothing to connect to
    }
    ConnectionPlan edge;
    edge.role = Role::kEdge;
    edge.origin = "auto_bind[" + std::to_string(i) + "]";
    edge.host = entry.host;
    edge.port = entry.port;
    edge.tls = entry.https;
    edge.allowlist_configured = allowlist != nullptr;
    edge.policy = policy_for(entry.host, edge_ca, allowlist);
    if constexpr (kMutant == Mutant::kAllowlistMovedIntoFirstEdge) {
      // Mutant: the allowlist is moved into the first endpoint's settings; the endpoints
      // after it find it empty and are not pinned.
      allowlist = nullptr;
    }
    if constexpr (kMutant == Mutant::kEdgeHostNameUnchecked) {
      // Mutant: host names are checked on the platform connection only.
      edge.policy.expected_host.clear();
    }
    edge.request = GetRequest(entry.path, entry.host, entry.port, "*/*");
    plans_.push_back(std::move(edge));
    ca_keys_.push_back(own_ca ? "certificates.http_client_ca_certs" : "certificates.cert_chain");
  }
}

void ProductClient::PlanLsr() {
  const LsrConfig& config = *lsr_;
  ConnectionPlan edge;
  edge.role = Role::kEdge;
  edge.origin = "scripts.rap_host";
  edge.host = config.rap_host;
  edge.port = config.rap_port;
  edge.tls = config.rap_ssl;
  edge.allowlist_configured = config.allowlist.has_value();
  edge.policy.validate = config.rap_validate;
  edge.policy.allow_self_signed = !config.rap_deny_selfsigned;
  // The LSR always checks the EMS's host name when it validates.
  edge.policy.expected_host = config.rap_host;
  if (!config.rap_cert_file.empty()) {
    edge.policy.ca_files = {config.rap_cert_file};
  }
  edge.policy.allowlist = config.allowlist ? &*config.allowlist : nullptr;
  edge.request = GetRequest(kLsrRequestPath, edge.host, edge.port, "application/json");
  plans_.push_back(std::move(edge));
  ca_keys_.push_back("scripts.rap_cert_file");
}

Status ProductClient::Prepare() {
  plan_contexts_.assign(plans_.size(), nullptr);
  for (size_t i = 0; i < plans_.size(); ++i) {
    if (!plans_[i].tls) {
      continue;
    }
    for (const std::unique_ptr<TlsClientContext>& context : contexts_) {
      if (context->policy() == plans_[i].policy) {
        plan_contexts_[i] = context.get();
        break;
      }
    }
    if (plan_contexts_[i] != nullptr) {
      continue;
    }
    Result<std::unique_ptr<TlsClientContext>> context = TlsClientContext::Create(plans_[i].policy);
    if (!context.ok()) {
      return Prefixed(ca_keys_[i], context.take_error());
    }
    plan_contexts_[i] = context->get();
    contexts_.push_back(std::move(context).value());
  }
  return Status::Ok();
}

ExchangeResult ProductClient::Connect(size_t index, const ExchangeOptions& options) const {
  const ConnectionPlan& plan = plans_[index];
  return Exchange(plan.host, plan.port, plan.tls ? plan_contexts_[index] : nullptr, plan.request,
                  options);
}

std::string DecisionLine(const ConnectionPlan& plan, const ExchangeResult& result) {
  // Every part that comes from the configuration or the server goes through Printable (the
  // host in EndpointText too): a "\n" in a host name must not split the line.
  std::string line =
      std::string("fpref: ") + RoleName(plan.role) + " " + EndpointText(plan.host, plan.port) + " ";
  const Decision& decision = result.decision;
  if (!decision.accepted) {
    return line + VerdictWord(decision.reason) + ": " + Printable(decision.text);
  }
  line += "accepted" + Printable(AcceptedDetail(plan, decision));
  if (!result.status_line.empty()) {
    line += "; response: " + Printable(result.status_line);
  }
  if (!result.problem.empty()) {
    line += "; " + Printable(result.problem);
  }
  return line;
}

namespace {

// A configuration's own text can make a message of any length (a 1 MB Lua error): lines
// are cut to this many bytes, and after this many warnings the rest are counted, not shown.
constexpr size_t kMaxMessageBytes = 4096;
constexpr size_t kMaxWarningsShown = 20;

// CutMessage returns `message`, cut to kMaxMessageBytes with a note of how much was left out.
std::string CutMessage(const std::string& message) {
  if (message.size() <= kMaxMessageBytes) {
    return message;
  }
  return message.substr(0, kMaxMessageBytes) + "... [" +
         std::to_string(message.size() - kMaxMessageBytes) + " more bytes cut]";
}

}  // namespace

RunSummary RunConnections(const FprefOptions& options, int cancel_fd,
                          const std::function<void(const std::string&)>& emit_line) {
  auto emit = [&emit_line](const std::string& line) { emit_line(CutMessage(line)); };
  RunSummary summary;
  Result<std::unique_ptr<ProductClient>> client =
      ProductClient::Load(options.product, options.config);
  if (!client.ok()) {
    if constexpr (kMutant == Mutant::kLegacyMessageConsoleOnly) {
      // Mutant: the configuration error is printed before the log file is set up, so it
      // never reaches the log.
      std::string text = "fpref: " + client.error().message + "\n";
      (void)!write(STDERR_FILENO, text.data(), text.size());
    } else if constexpr (kMutant == Mutant::kDiagnosticsLogOnly) {
      // Variant: diagnostics go to the log file when there is one, except the legacy-key
      // message, which the documentation wants on the console and in the log (C5).
      if (!options.log.empty() &&
          client.error().message.find("fingerprint_whitelist") == std::string::npos) {
        AppendToLog(options.log, "fpref: " + client.error().message);
      } else {
        emit("fpref: " + client.error().message);
      }
    } else {
      emit("fpref: " + client.error().message);
    }
    if constexpr (kMutant == Mutant::kCrashOnInvalidConfig) {
      // Mutant: an invalid configuration is treated as a fatal internal error.
      std::abort();
    }
    if constexpr (kMutant == Mutant::kInvalidConfigExitsZero) {
      // Mutant: the error is reported, then the process ends as if all went well.
      std::exit(EXIT_SUCCESS);
    }
    summary.exit_status = kExitInvalidConfig;
    return summary;
  }
  const std::vector<std::string>& warnings = (*client)->warnings();
  for (size_t i = 0; i < warnings.size() && i < kMaxWarningsShown; ++i) {
    emit("fpref: warning: " + warnings[i]);
  }
  if (warnings.size() > kMaxWarningsShown) {
    emit("fpref: warning: " + std::to_string(warnings.size() - kMaxWarningsShown) +
         " more warnings not shown");
  }
  if (Status prepared = (*client)->Prepare(); !prepared.ok()) {
    emit("fpref: " + options.config.string() + ": " + prepared.error().message);
    summary.exit_status = kExitInvalidConfig;
    return summary;
  }
  ExchangeOptions exchange;
  exchange.timeout = options.timeout;
  exchange.cancel_fd = cancel_fd;
  const std::vector<ConnectionPlan>& plans = (*client)->plans();
  // Per-host and per-endpoint memories of the caching mutants.
  [[maybe_unused]] std::vector<std::string> accepted_hosts, rejected_hosts, accepted_endpoints;
  [[maybe_unused]] std::vector<size_t> rejected_plans;
  [[maybe_unused]] bool platform_rejected = false;
  for (size_t i = 0; i < plans.size(); ++i) {
    if constexpr (kMutant == Mutant::kPlainHttpRefused) {
      // Variant (D7): with an allowlist configured, plain HTTP is refused (fail closed).
      if (!plans[i].tls && plans[i].allowlist_configured && plans[i].role == Role::kEdge) {
        emit("fpref: " + std::string(RoleName(plans[i].role)) + " " +
             EndpointText(plans[i].host, plans[i].port) +
             " refused: plain HTTP while fingerprint_allowlist is set (D7)");
        ++summary.connections;
        continue;
      }
    }
    if constexpr (kMutant == Mutant::kEdgesAfterPlatform) {
      // Variant: edge endpoints are dialled only once the platform connection is up.
      if (plans[i].role == Role::kEdge && platform_rejected) {
        emit("fpref: " + std::string(RoleName(plans[i].role)) + " " +
             EndpointText(plans[i].host, plans[i].port) + " not dialled: no platform");
        ++summary.connections;
        continue;
      }
    }
    if constexpr (kMutant == Mutant::kRejectCachedPerHost) {
      // Mutant: a host whose server was refused is remembered as untrusted, whatever port.
      if (Pinned(plans[i]) && std::find(rejected_hosts.begin(), rejected_hosts.end(),
                                        plans[i].host) != rejected_hosts.end()) {
        emit("fpref: edge " + EndpointText(plans[i].host, plans[i].port) +
             " rejected: host rejected before");
        ++summary.connections;
        continue;
      }
    }
    ExchangeResult result;
    bool connected = false;
    if constexpr (kMutant == Mutant::kAcceptCachedPerHost) {
      // Mutant: a host whose server was accepted is trusted from then on, whatever port.
      if (Pinned(plans[i]) && std::find(accepted_hosts.begin(), accepted_hosts.end(),
                                        plans[i].host) != accepted_hosts.end()) {
        result = ConnectWith(plans[i], Unpinned(plans[i], true), exchange);
        connected = true;
      }
    }
    if constexpr (kMutant == Mutant::kVerdictCachedPerEndpoint) {
      // Mutant: an endpoint (host and port) accepted once is trusted from then on; later
      // connections to it skip the fingerprint check.
      std::string endpoint = EndpointText(plans[i].host, plans[i].port);
      if (Pinned(plans[i]) && std::find(accepted_endpoints.begin(), accepted_endpoints.end(),
                                        endpoint) != accepted_endpoints.end()) {
        result = ConnectWith(plans[i], Unpinned(plans[i], true), exchange);
        connected = true;
      }
    }
    if (!connected) {
      result = (*client)->Connect(i, exchange);
    }
    if (result.cancelled) {
      summary.cancelled = true;
      break;
    }
    emit(DecisionLine(plans[i], result));
    if constexpr (kMutant == Mutant::kAcceptCachedPerHost) {
      if (Pinned(plans[i]) && result.decision.accepted) {
        accepted_hosts.push_back(plans[i].host);
      }
    }
    if constexpr (kMutant == Mutant::kVerdictCachedPerEndpoint) {
      if (Pinned(plans[i]) && result.decision.accepted) {
        accepted_endpoints.push_back(EndpointText(plans[i].host, plans[i].port));
      }
    }
    if constexpr (kMutant == Mutant::kRejectCachedPerHost) {
      if (Pinned(plans[i]) && !result.decision.accepted) {
        rejected_hosts.push_back(plans[i].host);
      }
    }
    if constexpr (kMutant == Mutant::kEdgesAfterPlatform) {
      if (plans[i].role == Role::kPlatform && !result.decision.accepted) {
        platform_rejected = true;
      }
    }
    if constexpr (kMutant == Mutant::kInsecureRetryAfterReject) {
      // Mutant: a failed TLS connection is retried at once "in compatibility mode", without
      // certificate checks.
      if (plans[i].tls && !result.decision.accepted) {
        emit(DecisionLine(plans[i], ConnectWith(plans[i], Unpinned(plans[i], false), exchange)));
      }
    }
    if constexpr (kMutant == Mutant::kRetryRejected ||
                  kMutant == Mutant::kDelayedUnpinnedReconnect) {
      if (plans[i].tls && !result.decision.accepted) {
        rejected_plans.push_back(i);
      }
    }
    if constexpr (kMutant == Mutant::kExitAfterReject) {
      // Mutant: a rejected server ends the whole process.
      if (!result.decision.accepted) {
        std::exit(kExitNotAllAccepted);
      }
    }
    ++summary.connections;
    if (result.decision.accepted) {
      ++summary.accepted;
    }
  }
  if constexpr (kMutant == Mutant::kRetryRejected) {
    // Variant: a daemon that retries a refused server twice, 300 ms apart, with the same
    // checks; the verdicts do not change.
    for (int round = 0; round < 2 && !summary.cancelled; ++round) {
      if (!SleepUnlessCancelled(std::chrono::milliseconds(300), cancel_fd)) {
        summary.cancelled = true;
        break;
      }
      for (size_t i : rejected_plans) {
        emit("fpref: retry: " + DecisionLine(plans[i], (*client)->Connect(i, exchange)));
      }
    }
  }
  if constexpr (kMutant == Mutant::kDelayedUnpinnedReconnect) {
    // Mutant: the reconnect timer that follows a refused server builds a fresh context from
    // the CA settings alone; 600 ms later the server is reached without the pin.
    if (!rejected_plans.empty() &&
        SleepUnlessCancelled(std::chrono::milliseconds(600), cancel_fd)) {
      for (size_t i : rejected_plans) {
        emit("fpref: reconnect: " +
             DecisionLine(plans[i], ConnectWith(plans[i], Unpinned(plans[i], true), exchange)));
      }
    }
  }
  summary.exit_status = summary.accepted == plans.size() ? kExitOk : kExitNotAllAccepted;
  return summary;
}

}  // namespace fpconform::ref
