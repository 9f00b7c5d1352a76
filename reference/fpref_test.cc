// fpref end to end, as a real process (ChildProcess) against loopback TLS test servers
// presenting the generated test PKI: decisions, output lines, the log file, exit statuses,
// the daemon lifecycle, bounded waits and usage errors.
#include "reference/fpref.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "certs/pki.h"
#include "certs/test_pki.h"
#include "harness/process/process.h"
#include "harness/tls/tls_server.h"
#include "reference/fingerprint.h"

namespace fpconform::ref {
namespace {

using certs::testing::SharedPki;
using certs::testing::SharedPkiDir;
using harness::ChildProcess;
using harness::ConnectionEnd;
using harness::ExitKind;
using harness::ProcessSpec;
using harness::ProcessStatus;
using harness::ServerObservation;
using harness::TlsServerConfig;
using harness::TlsTestServer;
using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kExitWait{10000};

const certs::Certificate& Cert(const std::string& name) {
  const certs::Pki* pki = SharedPki();
  const certs::Certificate* cert = pki == nullptr ? nullptr : pki->Find(name);
  if (cert == nullptr) {
    ADD_FAILURE() << "no certificate " << name;
    static const certs::Certificate kNone;
    return kNone;
  }
  return *cert;
}

std::string Fingerprint(const std::string& name) {
  Sha256Digest digest{};
  std::copy(Cert(name).sha256.begin(), Cert(name).sha256.end(), digest.begin());
  return FormatFingerprint(digest, FingerprintStyle::kOpenSsl);
}

std::string Bundle(const std::string& name) {
  return (SharedPkiDir() / (name + ".bundle.pem")).string();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

// StartServer starts a loopback server presenting `leaf` and its intermediates (or plain
// HTTP); fails the test and returns null when it cannot.
std::unique_ptr<TlsTestServer> StartServer(const std::string& leaf, bool tls = true) {
  TlsServerConfig config;
  config.tls = tls;
  for (const certs::Certificate* cert : Cert(leaf).Chain()) {
    config.chain.push_back(cert->cert.get());
  }
  config.key = Cert(leaf).key.get();
  Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
  if (!server.ok()) {
    ADD_FAILURE() << server.error().message;
    return nullptr;
  }
  return std::move(server).value();
}

// WaitEnded waits until every connection `server` saw has ended, and at least `count` came.
std::vector<ServerObservation> WaitEnded(const TlsTestServer& server, size_t count) {
  server.WaitUntil(
      [count](const std::vector<ServerObservation>& all) {
        if (all.size() < count) {
          return false;
        }
        for (const ServerObservation& o : all) {
          if (o.end == ConnectionEnd::kOpen) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(5));
  return server.Observations();
}

// Accepted / Rejected tell what a server saw, the way the harness's oracle reads it.
bool Accepted(const std::vector<ServerObservation>& seen) {
  return seen.size() == 1 && seen[0].app_bytes > 0;
}
bool Rejected(const std::vector<ServerObservation>& seen) {
  return seen.size() == 1 && seen[0].app_bytes == 0 && seen[0].end != ConnectionEnd::kOpen;
}

// BindLoopback makes a TCP socket bound to 127.0.0.1 on a free port and, when `backlog` is
// set, listening with it; `port` gets the port (0 on failure). The caller closes it.
int BindLoopback(std::optional<int> backlog, uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  *port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      (!backlog || listen(fd, *backlog) == 0) &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    *port = ntohs(addr.sin_port);
  }
  return fd;
}

// ClosedPort returns a loopback port on which nothing listens (bound, then released).
uint16_t ClosedPort() {
  uint16_t port = 0;
  close(BindLoopback(std::nullopt, &port));
  return port;
}

// SilentListener accepts TCP connections in the kernel's backlog and never answers: a
// server that lets every TLS handshake hang.
class SilentListener {
 public:
  SilentListener() { fd_ = BindLoopback(8, &port_); }
  ~SilentListener() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// FullListener listens on loopback with a backlog of 0 and never accepts. Linux lets one
// connection complete into the accept queue and then drops further SYNs (the client
// retransmits after 1 s, 3 s, ...), so once the queue is filled a connect() to it stays
// unanswered: a server that lets every TCP connect hang, without leaving the machine.
class FullListener {
 public:
  FullListener() {
    listener_ = BindLoopback(0, &port_);
    if (port_ == 0) {
      problem_ = "cannot listen on loopback";
      return;
    }
    // The first connection fills the queue; the second must then stay unanswered. If it
    // connects, this kernel answers beyond the backlog and the test cannot work here.
    if (!Connect(milliseconds(2000))) {
      problem_ = "the first connection was not accepted into the queue";
    } else if (Connect(milliseconds(200))) {
      problem_ = "the kernel answered a connection beyond the listen backlog";
    } else {
      ready_ = true;
    }
  }
  ~FullListener() {
    for (int fd : clients_) {
      close(fd);
    }
    close(listener_);
  }
  FullListener(const FullListener&) = delete;
  FullListener& operator=(const FullListener&) = delete;

  uint16_t port() const { return port_; }
  // ready tells whether connects to port() now hang; problem() says why not.
  bool ready() const { return ready_; }
  const std::string& problem() const { return problem_; }

 private:
  // Connect starts one more client connection; returns whether it completed within `wait`.
  bool Connect(milliseconds wait) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    clients_.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return true;
    }
    pollfd pfd{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof(error);
    return errno == EINPROGRESS && poll(&pfd, 1, static_cast<int>(wait.count())) == 1 &&
           getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
  }

  int listener_ = -1;
  uint16_t port_ = 0;
  std::vector<int> clients_;
  bool ready_ = false;
  std::string problem_;
};

// Workspace: a temporary directory holding one run's configuration and log.
class Workspace {
 public:
  Workspace() {
    Result<TempDir> dir = TempDir::Create("fpref-test-");
    EXPECT_TRUE(dir.ok());
    if (dir.ok()) {
      dir_.emplace(std::move(dir).value());
    }
  }
  std::string Path(const std::string& name) const { return (dir_->path() / name).string(); }
  std::string Write(const std::string& name, const std::string& text) const {
    EXPECT_TRUE(WriteFile(Path(name), text).ok());
    return Path(name);
  }
  std::string Read(const std::string& name) const {
    Result<std::string> text = ReadFile(Path(name));
    return text.ok() ? *text : std::string();
  }

 private:
  std::optional<TempDir> dir_;
};

// EmsConfig returns a config.json with the platform at `platform_port`, trusting ca-all.
json EmsConfig(uint16_t platform_port) {
  return json{{"ws_servers", json::array({{{"host", "127.0.0.1"}, {"port", platform_port}}})},
              {"ws_connection", {{"encryption", "ssl"}}},
              {"certificates", {{"validate", true}, {"cert_chain", {Bundle("ca-all")}}}},
              {"auto_bind", json::array()}};
}

void AddEdge(json& config, uint16_t port, bool https = true,
             const std::string& host = "127.0.0.1") {
  config["auto_bind"].push_back({{"name", "edge" + std::to_string(config["auto_bind"].size())},
                                 {"host", host},
                                 {"port", port},
                                 {"protocol", https ? "https" : "http"},
                                 {"path", "/fpconform/edge"}});
}

void Pin(json& config, const std::vector<std::string>& certificates) {
  json list = json::array();
  for (const std::string& name : certificates) {
    list.push_back(Fingerprint(name));
  }
  config["certificates"]["fingerprint_allowlist"] = list;
}

// LsrConfig returns a config.lua for an EMS at 127.0.0.1:`port` over TLS, trusting ca-all.
std::string LsrConfig(uint16_t port, const std::string& host = "127.0.0.1") {
  return "scripts.rap_host = \"" + host + "\"\nscripts.rap_port = " + std::to_string(port) +
         "\nscripts.rap_ssl = true\nscripts.rap_cert_file = \"" + Bundle("ca-all") + "\"\n";
}

std::string LsrPin(const std::vector<std::string>& certificates) {
  std::string value;
  for (const std::string& name : certificates) {
    value += (value.empty() ? "" : ",") + Fingerprint(name);
  }
  return "scripts.fingerprint_allowlist = \"" + value + "\"\n";
}

// Fpref: one fpref process.
struct Fpref {
  std::unique_ptr<ChildProcess> child;

  // Wait waits for the exit and returns the status; nullopt (after a failure) if none came.
  std::optional<ProcessStatus> Wait(milliseconds timeout = kExitWait) {
    Result<ProcessStatus> status = child->WaitFor(timeout);
    if (!status.ok()) {
      ADD_FAILURE() << "fpref still running: " << child->Stderr().Text();
      return std::nullopt;
    }
    (void)child->WaitForOutput(timeout);
    return *status;
  }
  std::string Stderr() const { return child->Stderr().Text(); }
};

Fpref StartFpref(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {FPREF_PATH};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
  EXPECT_TRUE(child.ok()) << (child.ok() ? "" : child.error().message);
  return Fpref{child.ok() ? std::move(child).value() : nullptr};
}

bool ExitedWith(const std::optional<ProcessStatus>& status, int code) {
  return status.has_value() && status->kind == ExitKind::kExited && status->exit_code == code;
}

std::string Endpoint(const TlsTestServer& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

// EMS, --exit-when-done: each case's servers, allowlist, expected lines and exit status.
TEST(FprefEmsTest, ConnectsDecidesAndReports) {
  ASSERT_NE(SharedPki(), nullptr);
  struct Case {
    const char* name;
    std::string platform;
    std::vector<std::string> edges;  // "http:NAME" for a plain-HTTP endpoint
    std::optional<std::vector<std::string>> listed;
    std::vector<bool> edge_accepted;
    bool platform_accepted;
    int exit_status;
  };
  const Case cases[] = {
      {"C4 C8 listed edge accepted, platform accepted without being listed",
       "platform",
       {"edge-a"},
       std::vector<std::string>{"edge-a"},
       {true},
       true,
       kExitOk},
      {"C4 unlisted edge rejected",
       "platform",
       {"edge-b"},
       std::vector<std::string>{"edge-a"},
       {false},
       true,
       kExitNotAllAccepted},
      {"I9 rejected, then accepted, in one process",
       "platform",
       {"edge-b", "edge-a"},
       std::vector<std::string>{"edge-a"},
       {false, true},
       true,
       kExitNotAllAccepted},
      {"C6 no allowlist: CA-valid edges accepted",
       "platform",
       {"edge-a", "edge-b"},
       std::nullopt,
       {true, true},
       true,
       kExitOk},
      {"D7 plain HTTP endpoint beside a pinned one",
       "platform",
       {"http:edge-a", "edge-b"},
       std::vector<std::string>{"edge-a"},
       {true, false},
       true,
       kExitNotAllAccepted},
      {"C8 platform with a wrong name rejected, edge still accepted",
       "platform-wrong-name",
       {"edge-a"},
       std::vector<std::string>{"platform-wrong-name", "edge-a"},
       {true},
       false,
       kExitNotAllAccepted},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<TlsTestServer> platform = StartServer(c.platform);
    ASSERT_NE(platform, nullptr);
    json config = EmsConfig(platform->port());
    std::vector<std::unique_ptr<TlsTestServer>> edges;
    for (const std::string& edge : c.edges) {
      bool plain = edge.rfind("http:", 0) == 0;
      edges.push_back(StartServer(plain ? edge.substr(5) : edge, !plain));
      ASSERT_NE(edges.back(), nullptr);
      AddEdge(config, edges.back()->port(), !plain);
    }
    if (c.listed) {
      Pin(config, *c.listed);
    }
    Workspace work;
    std::string path = work.Write("config.json", config.dump(2));
    Fpref fpref = StartFpref({"--product", "ems", "--config", path, "--log", work.Path("fpref.log"),
                              "--exit-when-done"});
    ASSERT_NE(fpref.child, nullptr);
    std::optional<ProcessStatus> status = fpref.Wait();
    EXPECT_TRUE(ExitedWith(status, c.exit_status)) << harness::Describe(*status);
    const std::string err = fpref.Stderr();
    EXPECT_EQ(work.Read("fpref.log"), err);

    std::vector<ServerObservation> platform_seen = WaitEnded(*platform, 1);
    if (c.platform_accepted) {
      EXPECT_TRUE(Accepted(platform_seen));
      ASSERT_FALSE(platform_seen.empty());
      EXPECT_TRUE(platform_seen[0].websocket_upgrade);
      EXPECT_EQ(platform_seen[0].first_request_line, "GET /Thingworx/WS HTTP/1.1");
      EXPECT_TRUE(Contains(err, "fpref: platform " + Endpoint(*platform) +
                                    " accepted (not pinned, C8); response: HTTP/1.1 101"))
          << err;
    } else {
      EXPECT_TRUE(Rejected(platform_seen));
      EXPECT_TRUE(Contains(err, "fpref: platform " + Endpoint(*platform) +
                                    " rejected: host name validation: certificate does not "
                                    "name IP address 127.0.0.1"))
          << err;
    }
    for (size_t i = 0; i < edges.size(); ++i) {
      SCOPED_TRACE("edge " + std::to_string(i));
      std::vector<ServerObservation> seen = WaitEnded(*edges[i], 1);
      std::string prefix = "fpref: edge " + Endpoint(*edges[i]);
      bool plain = c.edges[i].rfind("http:", 0) == 0;
      if (c.edge_accepted[i]) {
        EXPECT_TRUE(Accepted(seen));
        ASSERT_FALSE(seen.empty());
        EXPECT_EQ(seen[0].first_request_line, "GET /fpconform/edge HTTP/1.1");
        std::string detail = plain      ? " accepted (plain HTTP, not checked, D7)"
                             : c.listed ? " accepted: fingerprint " + Fingerprint(c.edges[i]) +
                                              " listed at "
                                              "certificates.fingerprint_allowlist["
                                        : " accepted (no fingerprint_allowlist, C6)";
        EXPECT_TRUE(Contains(err, prefix + detail)) << err;
      } else {
        // I9: rejected inside the handshake, no application data.
        EXPECT_TRUE(Rejected(seen));
        ASSERT_FALSE(seen.empty());
        EXPECT_FALSE(seen[0].handshake_completed);
        EXPECT_TRUE(seen[0].alert_received.has_value());
        EXPECT_TRUE(Contains(err, prefix + " rejected: fingerprint " + Fingerprint(c.edges[i]) +
                                      " not in fingerprint_allowlist"))
            << err;
      }
    }
    // One line per connection (plus warnings), in order: the platform first.
    EXPECT_EQ(Count(err, "fpref: platform "), 1u) << err;
    EXPECT_EQ(Count(err, "fpref: edge "), edges.size()) << err;
    EXPECT_LT(err.find("fpref: platform "), err.find("fpref: edge ")) << err;
  }
}

TEST(FprefEmsTest, WarningsPrintedOnceAtStart) {
  ASSERT_NE(SharedPki(), nullptr);
  std::unique_ptr<TlsTestServer> platform = StartServer("platform");
  std::unique_ptr<TlsTestServer> plain = StartServer("edge-a", false);
  ASSERT_TRUE(platform && plain);
  json config = EmsConfig(platform->port());
  AddEdge(config, plain->port(), false);
  Pin(config, {"edge-a", "edge-a"});
  Workspace work;
  Fpref fpref = StartFpref({"--product", "ems", "--config",
                            work.Write("config.json", config.dump()), "--exit-when-done"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitOk));
  const std::string err = fpref.Stderr();
  EXPECT_EQ(Count(err, "fpref: warning: auto_bind[0]: plain HTTP endpoint"), 1u) << err;
  EXPECT_EQ(Count(err, "same fingerprint as certificates.fingerprint_allowlist[0] (I8)"), 1u)
      << err;
  EXPECT_LT(err.find("fpref: warning:"), err.find("fpref: platform")) << err;
}

TEST(FprefLsrTest, ConnectsDecidesAndReports) {
  ASSERT_NE(SharedPki(), nullptr);
  struct Case {
    const char* name;
    std::string leaf;
    std::string host;
    std::optional<std::vector<std::string>> listed;
    bool accepted;
  };
  const Case cases[] = {
      {"C12 listed EMS accepted", "edge-a", "127.0.0.1", std::vector<std::string>{"edge-a"}, true},
      {"C12 second item authorises", "edge-a", "127.0.0.1",
       std::vector<std::string>{"edge-b", "edge-a"}, true},
      {"C4 unlisted EMS rejected", "edge-b", "127.0.0.1", std::vector<std::string>{"edge-a"},
       false},
      {"C6 no allowlist: CA-valid EMS accepted", "edge-b", "127.0.0.1", std::nullopt, true},
      {"C8 host name localhost resolves and matches", "edge-a", "localhost",
       std::vector<std::string>{"edge-a"}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<TlsTestServer> ems = StartServer(c.leaf);
    ASSERT_NE(ems, nullptr);
    std::string lua = LsrConfig(ems->port(), c.host) + (c.listed ? LsrPin(*c.listed) : "");
    Workspace work;
    Fpref fpref = StartFpref({"--product", "lsr", "--config", work.Write("config.lua", lua),
                              "--log", work.Path("fpref.log"), "--exit-when-done"});
    ASSERT_NE(fpref.child, nullptr);
    std::optional<ProcessStatus> status = fpref.Wait();
    EXPECT_TRUE(ExitedWith(status, c.accepted ? kExitOk : kExitNotAllAccepted));
    const std::string err = fpref.Stderr();
    EXPECT_EQ(work.Read("fpref.log"), err);
    std::vector<ServerObservation> seen = WaitEnded(*ems, 1);
    std::string prefix = "fpref: edge " + c.host + ":" + std::to_string(ems->port());
    if (c.accepted) {
      EXPECT_TRUE(Accepted(seen)) << err;
      ASSERT_FALSE(seen.empty());
      EXPECT_EQ(seen[0].first_request_line,
                "GET /Thingworx/Things/LocalEms/Properties/isConnected HTTP/1.1");
      EXPECT_TRUE(Contains(err, prefix + " accepted")) << err;
      if (c.listed) {
        EXPECT_TRUE(Contains(err, "listed at scripts.fingerprint_allowlist item ")) << err;
      }
    } else {
      EXPECT_TRUE(Rejected(seen)) << err;
      EXPECT_TRUE(Contains(err, prefix + " rejected: fingerprint " + Fingerprint(c.leaf) +
                                    " not in fingerprint_allowlist"))
          << err;
    }
  }
}

// I9: like the real daemons, fpref keeps running after a rejection, until SIGTERM or
// SIGINT, and then exits 0. The EMS rejects an unlisted auto_bind endpoint, then still
// accepts a listed one; the LSR rejects its only (unlisted) EMS.
TEST(FprefLifecycleTest, KeepsRunningAfterRejectionUntilSignalled) {
  ASSERT_NE(SharedPki(), nullptr);
  struct Case {
    const char* name;
    Product product;
    int signal_number;
  };
  const Case cases[] = {
      {"I9 LSR stopped by SIGTERM", Product::kLsr, SIGTERM},
      {"I9 LSR stopped by SIGINT", Product::kLsr, SIGINT},
      {"I9 EMS stopped by SIGTERM", Product::kEms, SIGTERM},
      {"I9 EMS stopped by SIGINT", Product::kEms, SIGINT},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::unique_ptr<TlsTestServer> unlisted = StartServer("edge-b");
    std::unique_ptr<TlsTestServer> listed = StartServer("edge-a");
    std::unique_ptr<TlsTestServer> platform = StartServer("platform");
    ASSERT_TRUE(unlisted && listed && platform);
    Workspace work;
    std::string path;
    if (c.product == Product::kEms) {
      json config = EmsConfig(platform->port());
      AddEdge(config, unlisted->port());
      AddEdge(config, listed->port());
      Pin(config, {"edge-a"});
      path = work.Write("config.json", config.dump(2));
    } else {
      path = work.Write("config.lua", LsrConfig(unlisted->port()) + LsrPin({"edge-a"}));
    }
    Fpref fpref = StartFpref({"--product", ProductName(c.product), "--config", path});
    ASSERT_NE(fpref.child, nullptr);
    EXPECT_TRUE(Rejected(WaitEnded(*unlisted, 1)));
    if (c.product == Product::kEms) {
      EXPECT_TRUE(Accepted(WaitEnded(*listed, 1)));
      EXPECT_TRUE(Accepted(WaitEnded(*platform, 1)));
    }
    EXPECT_FALSE(fpref.child->WaitFor(milliseconds(300)).ok()) << "exited after a rejection";
    ASSERT_EQ(kill(fpref.child->pid(), c.signal_number), 0);
    std::optional<ProcessStatus> status = fpref.Wait(milliseconds(2000));
    EXPECT_TRUE(ExitedWith(status, kExitOk));
    const std::string err = fpref.Stderr();
    EXPECT_TRUE(Contains(err, "fpref: edge " + Endpoint(*unlisted) + " rejected: fingerprint " +
                                  Fingerprint("edge-b") + " not in fingerprint_allowlist"))
        << err;
    if (c.product == Product::kEms) {
      EXPECT_TRUE(Contains(err, "fpref: edge " + Endpoint(*listed) + " accepted: fingerprint " +
                                    Fingerprint("edge-a") + " listed at "))
          << err;
    }
  }
}

// I12: an invalid configuration ends fpref with status 3 and a one-line diagnostic naming
// the problem, before any connection.
// A configuration can make fpref's messages as long and as many as it likes: 100 000
// repeated entries print a bounded number of warning lines, and a 1 MB Lua error message is
// cut to one bounded line.
TEST(FprefOutputTest, RepeatedWarningsFoldAndLongMessagesAreCut) {
  ASSERT_NE(SharedPki(), nullptr);
  std::unique_ptr<TlsTestServer> platform = StartServer("platform");
  std::unique_ptr<TlsTestServer> edge = StartServer("edge-a");
  ASSERT_TRUE(platform && edge);
  json config = EmsConfig(platform->port());
  AddEdge(config, edge->port());
  Pin(config, std::vector<std::string>(100001, "edge-a"));
  Workspace work;
  Fpref fpref = StartFpref({"--product", "ems", "--config",
                            work.Write("config.json", config.dump()), "--exit-when-done"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitOk));
  std::string err = fpref.Stderr();
  EXPECT_EQ(Count(err, "fpref: warning:"), 21u);
  EXPECT_NE(err.find("fpref: warning: 99980 more warnings not shown"), std::string::npos);

  const std::string huge = "error(\"" + std::string(1 << 20, 'x') + "\")\n";
  Fpref lua =
      StartFpref({"--product", "lsr", "--config",
                  work.Write("config.lua", LsrConfig(edge->port()) + huge), "--exit-when-done"});
  ASSERT_NE(lua.child, nullptr);
  EXPECT_TRUE(ExitedWith(lua.Wait(), kExitInvalidConfig));
  err = lua.Stderr();
  EXPECT_LT(err.size(), 8192u);
  EXPECT_NE(err.find("more bytes cut]"), std::string::npos) << err.substr(0, 300);
}

TEST(FprefConfigTest, InvalidConfigurationExitsBeforeConnecting) {
  ASSERT_NE(SharedPki(), nullptr);
  std::unique_ptr<TlsTestServer> platform = StartServer("platform");
  std::unique_ptr<TlsTestServer> edge = StartServer("edge-a");
  ASSERT_TRUE(platform && edge);
  auto ems = [&](const std::function<void(json&)>& edit) {
    json config = EmsConfig(platform->port());
    AddEdge(config, edge->port());
    edit(config);
    return config.dump(2);
  };
  const std::string lsr = LsrConfig(edge->port());  // four lines
  const std::string a = Fingerprint("edge-a");
  struct Case {
    const char* name;
    Product product;
    std::string text;
    // The diagnostic after "fpref: <path>": the JSON path or the Lua line, then the reason
    // (or its beginning).
    std::string want;
    // Bound of the whole run, for configurations that try to run forever: the sandbox's
    // default budgets (200 ms at most) plus the process's start and exit.
    std::optional<milliseconds> within = std::nullopt;
  };
  const Case cases[] = {
      {"C7 EMS empty list", Product::kEms,
       ems([](json& c) { c["certificates"]["fingerprint_allowlist"] = json::array(); }),
       ": certificates.fingerprint_allowlist: empty array"},
      {"C5 EMS legacy key", Product::kEms,
       ems([&](json& c) { c["certificates"]["fingerprint_whitelist"] = {a}; }),
       ": certificates.fingerprint_whitelist: the key was renamed fingerprint_allowlist"},
      {"I6 EMS legacy key beside the new one", Product::kEms, ems([&](json& c) {
         c["certificates"]["fingerprint_whitelist"] = {a};
         c["certificates"]["fingerprint_allowlist"] = {a};
       }),
       ": certificates.fingerprint_whitelist: the key was renamed fingerprint_allowlist in "
       "5.4.10; rename it to fingerprint_allowlist"},
      {"I5 EMS bad entry", Product::kEms, ems([&](json& c) {
         c["certificates"]["fingerprint_allowlist"] = {a, a.substr(1)};
       }),
       ": certificates.fingerprint_allowlist[1]: 63 hex digits, want 64"},
      {"D3 EMS OpenSSL label", Product::kEms, ems([&](json& c) {
         c["certificates"]["fingerprint_allowlist"] = {"SHA256 Fingerprint=" + a};
       }),
       ": certificates.fingerprint_allowlist[0]: starts with OpenSSL's"},
      {"I7 EMS string instead of array", Product::kEms,
       ems([&](json& c) { c["certificates"]["fingerprint_allowlist"] = a; }),
       ": certificates.fingerprint_allowlist: got a string"},
      {"I12 EMS JSON syntax error", Product::kEms, "{\"certificates\": {,}}",
       ": not JSON: line 1, column 19 (byte 19): "},
      {"I12 EMS missing CA file", Product::kEms,
       ems([](json& c) { c["certificates"]["cert_chain"] = {"/nonexistent/ca.pem"}; }),
       ": certificates.cert_chain: /nonexistent/ca.pem: cannot load CA certificates"},
      {"I12 EMS CA file with a line break in its name", Product::kEms,
       ems([](json& c) { c["certificates"]["cert_chain"] = {"/nonexistent/a\nb.pem"}; }),
       ": certificates.cert_chain: /nonexistent/a\\x0Ab.pem: cannot load CA certificates"},
      {"C7 LSR empty string", Product::kLsr, lsr + "scripts.fingerprint_allowlist = \"\"\n",
       ":5: scripts.fingerprint_allowlist: empty string"},
      {"C5 LSR legacy key", Product::kLsr, lsr + "scripts.fingerprint_whitelist = \"" + a + "\"\n",
       ":5: scripts.fingerprint_whitelist: the key was renamed fingerprint_allowlist"},
      {"I5 LSR bad entry", Product::kLsr,
       lsr + "scripts.fingerprint_allowlist = \"" + a + "," + a + "0\"\n",
       ":5: scripts.fingerprint_allowlist item 2: 65 hex digits, want 64"},
      {"D6 LSR trailing comma", Product::kLsr,
       lsr + "scripts.fingerprint_allowlist = \"" + a + ",\"\n",
       ":5: scripts.fingerprint_allowlist item 2: empty item after the trailing comma (D6)"},
      {"C13 LSR Lua syntax error (documented two-line string)", Product::kLsr,
       lsr + "scripts.fingerprint_allowlist = \"" + a + ",\n" + a + "\"\n",
       ":5: unfinished string near '\"" + a + ",'"},
      {"I7 LSR table instead of string", Product::kLsr,
       lsr + "scripts.fingerprint_allowlist = {\"" + a + "\"}\n",
       ":5: scripts.fingerprint_allowlist: got a table"},
      {"I12 LSR runaway loop", Product::kLsr, lsr + "while true do end\n",
       ":5: instruction budget of 5000000 exceeded", milliseconds(1000)},
      {"I12 LSR allocation bomb", Product::kLsr,
       lsr + "local t = {}\nwhile true do t[#t + 1] = string.rep('x', 1 << 20) .. #t end\n",
       ": not enough memory (the sandbox allows 16777216 bytes)", milliseconds(1000)},
      {"I12 LSR expensive instructions", Product::kLsr,
       lsr + "local s = string.rep('x', 100000)\nwhile true do local t = s .. 'y' end\n",
       ":6: run time limit of 200 ms exceeded", milliseconds(1000)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Workspace work;
    const std::string file = c.product == Product::kEms ? "config.json" : "config.lua";
    std::string path = work.Write(file, c.text);
    auto start = std::chrono::steady_clock::now();
    Fpref fpref = StartFpref(
        {"--product", ProductName(c.product), "--config", path, "--log", work.Path("fpref.log")});
    ASSERT_NE(fpref.child, nullptr);
    std::optional<ProcessStatus> status = fpref.Wait();
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(ExitedWith(status, kExitInvalidConfig));
    if (c.within) {
      EXPECT_LT(elapsed, *c.within)
          << std::chrono::duration_cast<milliseconds>(elapsed).count() << " ms";
    }
    const std::string err = fpref.Stderr();
    // One line that names the file once, then where in it and why.
    EXPECT_EQ(err.rfind("fpref: " + path + c.want, 0), 0u) << err;
    EXPECT_EQ(Count(err, file), 1u) << err;
    EXPECT_EQ(Count(err, "\n"), 1u) << err;
    EXPECT_EQ(work.Read("fpref.log"), err);
  }
  // No case made any connection.
  EXPECT_TRUE(platform->Observations().empty());
  EXPECT_TRUE(edge->Observations().empty());
}

// One line per connection, whatever the configuration or the server puts in a host name, a
// reason or a status line: bytes outside printable ASCII are written as \xNN.
TEST(FprefOutputTest, DecisionLineEscapesConfiguredAndReceivedText) {
  ConnectionPlan plain;
  plain.host = "h\nx";
  plain.port = 8080;
  plain.tls = false;
  plain.allowlist_configured = true;
  ExchangeResult answered;
  answered.decision.accepted = true;
  answered.status_line = "HTTP/1.1 200 \x1b[31mOK\r";
  EXPECT_EQ(DecisionLine(plain, answered),
            "fpref: edge h\\x0Ax:8080 accepted (plain HTTP, not checked, D7); response: HTTP/1.1 "
            "200 \\x1B[31mOK\\x0D");

  ConnectionPlan platform;
  platform.role = Role::kPlatform;
  platform.host = "fe80::1%eth0\n";
  platform.port = 443;
  ExchangeResult wrong_name;
  wrong_name.decision.reason = RejectReason::kHostName;
  wrong_name.decision.text = "host name validation: certificate does not name host a\nb";
  EXPECT_EQ(DecisionLine(platform, wrong_name),
            "fpref: platform [fe80::1%eth0\\x0A]:443 rejected: host name validation: certificate "
            "does not name host a\\x0Ab");
  EXPECT_EQ(EndpointText("a\tb", 1), "a\\x09b:1");
}

// The same end to end: hosts with line breaks in an EMS and an LSR configuration.
TEST(FprefOutputTest, HostsWithLineBreaksStayOnOneLine) {
  ASSERT_NE(SharedPki(), nullptr);
  std::unique_ptr<TlsTestServer> platform = StartServer("platform");
  ASSERT_NE(platform, nullptr);
  json ems = EmsConfig(platform->port());
  AddEdge(ems, 8443, true, "a\nb");
  AddEdge(ems, 8080, false, "c\r\nforged");
  Pin(ems, {"edge-a"});
  struct Case {
    const char* name;
    Product product;
    std::string text;
    std::vector<std::string> want;  // the lines of stderr, each up to its end or a prefix
  };
  const Case cases[] = {
      {"EMS auto_bind hosts",
       Product::kEms,
       ems.dump(2),
       {"fpref: warning: auto_bind[1]: plain HTTP endpoint c\\x0D\\x0Aforged:8080 is "
        "not checked against the fingerprint allowlist (D7)",
        "fpref: platform " + Endpoint(*platform) + " accepted (not pinned, C8); response: ",
        "fpref: edge a\\x0Ab:8443 unreachable: cannot resolve a\\x0Ab: ",
        "fpref: edge c\\x0D\\x0Aforged:8080 unreachable: cannot resolve "
        "c\\x0D\\x0Aforged: "}},
      {"LSR rap_host",
       Product::kLsr,
       LsrConfig(8443, "a\\nb"),
       {"fpref: edge a\\x0Ab:8443 unreachable: cannot resolve a\\x0Ab: "}},
      {"LSR rap_host with a NUL byte, which name resolution would cut short",
       Product::kLsr,
       LsrConfig(8443, "127.0.0.1\\0evil"),
       {"fpref: edge 127.0.0.1\\x00evil:8443 unreachable: cannot resolve "
        "127.0.0.1\\x00evil: the name holds a NUL byte"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Workspace work;
    std::string path =
        work.Write(c.product == Product::kEms ? "config.json" : "config.lua", c.text);
    Fpref fpref = StartFpref({"--product", ProductName(c.product), "--config", path,
                              "--exit-when-done", "--timeout-ms", "2000"});
    ASSERT_NE(fpref.child, nullptr);
    EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitNotAllAccepted));
    const std::string err = fpref.Stderr();
    std::vector<std::string> lines;
    for (size_t start = 0, end; start < err.size(); start = end + 1) {
      end = err.find('\n', start);
      if (end == std::string::npos) {
        end = err.size();
      }
      lines.push_back(err.substr(start, end - start));
    }
    ASSERT_EQ(lines.size(), c.want.size()) << err;
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(lines[i].rfind(c.want[i], 0), 0u) << lines[i];
      EXPECT_EQ(lines[i].find('\r'), std::string::npos) << lines[i];
    }
  }
}

TEST(FprefConfigTest, MissingConfigFileExits) {
  Fpref fpref = StartFpref({"--product", "lsr", "--config", "/nonexistent/config.lua"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitInvalidConfig));
  EXPECT_TRUE(Contains(fpref.Stderr(), "fpref: /nonexistent/config.lua: ")) << fpref.Stderr();
}

TEST(FprefBoundsTest, UnreachableEndpointReported) {
  ASSERT_NE(SharedPki(), nullptr);
  std::unique_ptr<TlsTestServer> platform = StartServer("platform");
  std::unique_ptr<TlsTestServer> edge = StartServer("edge-a");
  ASSERT_TRUE(platform && edge);
  const uint16_t closed = ClosedPort();
  json config = EmsConfig(platform->port());
  AddEdge(config, closed);
  AddEdge(config, edge->port());
  Workspace work;
  Fpref fpref = StartFpref({"--product", "ems", "--config",
                            work.Write("config.json", config.dump()), "--exit-when-done"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitNotAllAccepted));
  const std::string err = fpref.Stderr();
  EXPECT_TRUE(Contains(
      err, "fpref: edge 127.0.0.1:" + std::to_string(closed) + " unreachable: Connection refused"))
      << err;
  // The next endpoint is still tried.
  EXPECT_TRUE(Accepted(WaitEnded(*edge, 1))) << err;
}

TEST(FprefBoundsTest, HandshakeTimeoutIsBounded) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  Workspace work;
  auto start = std::chrono::steady_clock::now();
  Fpref fpref = StartFpref({"--product", "lsr", "--config",
                            work.Write("config.lua", LsrConfig(silent.port())), "--timeout-ms",
                            "300", "--exit-when-done"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitNotAllAccepted));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(Contains(fpref.Stderr(), "fpref: edge 127.0.0.1:" + std::to_string(silent.port()) +
                                           " timeout: no TLS handshake within 300 ms"))
      << fpref.Stderr();
}

TEST(FprefBoundsTest, ConnectTimeoutIsBounded) {
  FullListener full;
  if (!full.ready()) {
    GTEST_SKIP() << "no loopback server that leaves a connect unanswered: " << full.problem();
  }
  Workspace work;
  auto start = std::chrono::steady_clock::now();
  Fpref fpref =
      StartFpref({"--product", "lsr", "--config", work.Write("config.lua", LsrConfig(full.port())),
                  "--timeout-ms", "300", "--exit-when-done"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitNotAllAccepted));
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(fpref.Stderr(), "fpref: edge 127.0.0.1:" + std::to_string(full.port()) +
                                " timeout: no TCP connection within 300 ms\n");
}

TEST(FprefBoundsTest, SignalDuringHandshakeEndsPromptly) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  Workspace work;
  Fpref fpref =
      StartFpref({"--product", "lsr", "--config",
                  work.Write("config.lua", LsrConfig(silent.port())), "--timeout-ms", "60000"});
  ASSERT_NE(fpref.child, nullptr);
  // Give it time to connect and start waiting for the server's handshake.
  EXPECT_FALSE(fpref.child->WaitFor(milliseconds(200)).ok());
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(fpref.child->pid(), SIGTERM), 0);
  EXPECT_TRUE(ExitedWith(fpref.Wait(milliseconds(2000)), kExitOk));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST(FprefUsageTest, UsageErrorsExit2) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    std::string want;
  };
  const Case cases[] = {
      {"no arguments", {}, "--product is required"},
      {"no --config", {"--product", "ems"}, "--config is required"},
      {"unknown product", {"--product", "xyz", "--config", "c"}, "xyz not in {ems,lsr}"},
      {"unknown option", {"--product", "ems", "--config", "c", "--frobnicate"}, "frobnicate"},
      {"zero timeout", {"--product", "ems", "--config", "c", "--timeout-ms", "0"}, "timeout-ms"},
      {"non-numeric timeout",
       {"--product", "ems", "--config", "c", "--timeout-ms", "x"},
       "timeout-ms"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Fpref fpref = StartFpref(c.args);
    ASSERT_NE(fpref.child, nullptr);
    EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitUsage));
    const std::string err = fpref.Stderr();
    EXPECT_EQ(err.rfind("fpref: ", 0), 0u) << err;
    EXPECT_TRUE(Contains(err, c.want)) << err;
    EXPECT_TRUE(Contains(err, "Usage: fpref")) << err;
  }
}

TEST(FprefUsageTest, HelpListsEveryOptionWithItsDefault) {
  Fpref fpref = StartFpref({"--help"});
  ASSERT_NE(fpref.child, nullptr);
  EXPECT_TRUE(ExitedWith(fpref.Wait(), kExitOk));
  std::string out = fpref.child->Stdout().Text();
  for (const char* want : {"--product", "--config", "--log", "(default: none)", "--exit-when-done",
                           "(default: off", "--timeout-ms", "=3000", "Exit status"}) {
    EXPECT_TRUE(Contains(out, want)) << want << " in\n" << out;
  }
}

}  // namespace
}  // namespace fpconform::ref
