// fpref, the reference target: the part of the program that does not depend on the command
// line or on signals, so that tests can drive it in-process. fpref_main.cc adds those.
//
// fpref loads an EMS config.json or an LSR config.lua, exits with kExitInvalidConfig on an
// invalid one before any connection (C5, C7, I12), then makes the product's connections in
// order and reports one line per connection:
//   EMS: the platform (ws_servers[0], WebSocket upgrade; never pinned, C8), then every
//        auto_bind entry with an endpoint ("https": TLS, pinned when an allowlist is
//        configured; "http": plain, never checked, D7);
//   LSR: the EMS at scripts.rap_host:rap_port (TLS when rap_ssl; pinned when configured).
#ifndef FPCONFORM_REFERENCE_FPREF_H_
#define FPCONFORM_REFERENCE_FPREF_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "reference/client.h"
#include "reference/ems_config.h"
#include "reference/lsr_config.h"
#include "reference/verify.h"

namespace fpconform::ref {

// Exit statuses of fpref.
constexpr int kExitOk = 0;              // stopped by SIGTERM/SIGINT, or every connection accepted
constexpr int kExitNotAllAccepted = 1;  // --exit-when-done: some connection was not accepted
constexpr int kExitUsage = 2;           // bad command line
constexpr int kExitInvalidConfig = 3;   // invalid configuration (or CA file): no connection made
constexpr int kExitSetupFailed = 4;     // the log file or the signal handling could not be set up

// Product: which client fpref plays.
enum class Product { kEms, kLsr };

// ProductName returns "ems" or "lsr"; never fails.
const char* ProductName(Product product);

// FprefOptions: every setting of fpref, with its default.
struct FprefOptions {
  Product product = Product::kEms;
  std::filesystem::path config;
  std::filesystem::path log;  // empty: no log file
  bool exit_when_done = false;
  std::chrono::milliseconds timeout{3000};  // each connect, handshake, write and read
};

// Role: the kind of server a connection goes to.
enum class Role {
  kPlatform,  // the ThingWorx platform (EMS ws_servers[0]); never pinned (C8)
  kEdge,      // an EMS auto_bind endpoint, or the EMS an LSR talks to; pinned when configured
};

// RoleName returns "platform" or "edge"; never fails.
const char* RoleName(Role role);

// ConnectionPlan: one connection fpref makes.
struct ConnectionPlan {
  Role role = Role::kEdge;
  std::string origin;  // the configuration that asks for it: "ws_servers[0]", "auto_bind[1]"
  std::string host;
  int port = 0;
  bool tls = true;
  bool allowlist_configured = false;  // an allowlist exists (it applies only when tls)
  VerifyPolicy policy;                // used when tls
  std::string request;                // the HTTP request sent once the server is accepted
};

// ProductClient: a loaded configuration and the connections it asks for.
class ProductClient {
 public:
  // Load reads the configuration of `product` at `path`. Returns the loader's Error, whose
  // one-line message starts with the path and names the offending key.
  static Result<std::unique_ptr<ProductClient>> Load(Product product,
                                                     const std::filesystem::path& path);

  ProductClient(const ProductClient&) = delete;
  ProductClient& operator=(const ProductClient&) = delete;

  // warnings returns the configuration's warnings, one line each (D7, I8, ...).
  const std::vector<std::string>& warnings() const { return warnings_; }

  // plans returns the connections, in the order they are made.
  const std::vector<ConnectionPlan>& plans() const { return plans_; }

  // Prepare makes one TLS context per distinct policy, loading its CA files. Returns an
  // Error naming the configuration key and the CA file that could not be loaded.
  Status Prepare();

  // Connect makes connection `index` (Prepare must have succeeded). Never fails as a call.
  ExchangeResult Connect(size_t index, const ExchangeOptions& options) const;

 private:
  ProductClient() = default;
  void PlanEms();
  void PlanLsr();

  Product product_ = Product::kEms;
  std::optional<EmsConfig> ems_;  // owns the allowlist the policies point to
  std::optional<LsrConfig> lsr_;
  std::vector<std::string> warnings_;
  std::vector<ConnectionPlan> plans_;
  std::vector<std::string> ca_keys_;  // per plan: the key naming its CA files
  std::vector<std::unique_ptr<TlsClientContext>> contexts_;
  std::vector<const TlsClientContext*> plan_contexts_;  // per plan; nullptr for plain
};

// EndpointText returns host:port for output, with an IPv6 address in brackets ("[::1]:443")
// and the host's bytes outside printable ASCII written as \xNN (Printable); never fails.
std::string EndpointText(const std::string& host, int port);

// DecisionLine returns the one line fpref prints for a finished connection (never fails),
// e.g. "fpref: edge 127.0.0.1:40123 rejected: fingerprint 3A:...:9F not in fingerprint_allowlist".
// Text from the configuration or the server (host, reason, status line) is passed through
// Printable, so the line stays one line whatever it holds.
std::string DecisionLine(const ConnectionPlan& plan, const ExchangeResult& result);

// RunSummary: how the connections of one fpref run went.
struct RunSummary {
  int exit_status = kExitOk;  // kExitOk, kExitNotAllAccepted or kExitInvalidConfig
  bool cancelled = false;     // the cancel descriptor fired (SIGTERM/SIGINT)
  size_t connections = 0;
  size_t accepted = 0;
};

// RunConnections loads the configuration, reports its warnings, prepares the TLS contexts
// and makes every connection, passing each line of output to `emit` (without "\n").
// Returns kExitInvalidConfig, after emitting "fpref: <diagnostic>", when the configuration
// or a CA file is invalid; then no connection has been attempted.
RunSummary RunConnections(const FprefOptions& options, int cancel_fd,
                          const std::function<void(const std::string&)>& emit);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_FPREF_H_
