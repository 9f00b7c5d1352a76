// Costs of the reference library: fingerprint parsing and hashing, allowlist lookups by list
// size (the 10 000 : 1 ratio is printed at the end; the goal is at most 1.2), loading a
// realistic EMS config.json and LSR config.lua, the verification step with and without the
// fingerprint check on real loopback handshakes (the pinned : unpinned ratio is printed; the
// goal is at most 1.05), and a bare `fpref --exit-when-done` run against running servers.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/files.h"
#include "certs/pki.h"
#include "harness/tls/tls_server.h"
#include "reference/allowlist.h"
#include "reference/client.h"
#include "reference/ems_config.h"
#include "reference/fingerprint.h"
#include "reference/lsr_config.h"
#include "reference/sample_configs.h"
#include "reference/verify.h"

extern char** environ;

namespace fpconform::ref {
namespace {

constexpr char kColon[] =
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
    "15:AD";
constexpr char kPlain[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// Configurations shaped like real ones (reference/sample_configs.h), as the tests read them.
constexpr const char* kEmsConfig = samples::kVendorLikeEmsConfig;
constexpr const char* kLsrConfig = samples::kRealisticLsrConfig;

// DigestNumber returns a realistic digest: the SHA-256 of the number's decimal text.
Sha256Digest DigestNumber(int n) {
  std::string text = std::to_string(n);
  return Sha256OfDer({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void BM_ParseFingerprintColon(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseFingerprint(kColon));
  }
}
BENCHMARK(BM_ParseFingerprintColon);

void BM_ParseFingerprintPlainLower(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParseFingerprint(kPlain));
  }
}
BENCHMARK(BM_ParseFingerprintPlainLower);

void BM_Sha256OfDer1KiB(benchmark::State& state) {
  std::vector<uint8_t> der(1024, 0x5a);
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sha256OfDer(der));
  }
}
BENCHMARK(BM_Sha256OfDer1KiB);

Allowlist MakeAllowlist(int entries) {
  Allowlist allowlist;
  for (int i = 0; i < entries; ++i) {
    allowlist.Add(DigestNumber(i), "certificates.fingerprint_allowlist[" + std::to_string(i) + "]");
  }
  return allowlist;
}

// The match is the last entry written (I8).
void BM_AllowlistHitLast(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  Allowlist allowlist = MakeAllowlist(entries);
  Sha256Digest last = DigestNumber(entries - 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(allowlist.Contains(last));
  }
}
BENCHMARK(BM_AllowlistHitLast)->Arg(1)->Arg(100)->Arg(10000);

void BM_AllowlistMiss(benchmark::State& state) {
  const int entries = static_cast<int>(state.range(0));
  Allowlist allowlist = MakeAllowlist(entries);
  Sha256Digest absent = DigestNumber(-1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(allowlist.Contains(absent));
  }
}
BENCHMARK(BM_AllowlistMiss)->Arg(1)->Arg(100)->Arg(10000);

void BM_ParseEmsConfig(benchmark::State& state) {
  for (auto _ : state) {
    Result<EmsConfig> config = ParseEmsConfig(kEmsConfig);
    if (!config.ok()) {
      state.SkipWithError(config.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(config);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(std::char_traits<char>::length(kEmsConfig)));
}
BENCHMARK(BM_ParseEmsConfig);

void BM_ParseLsrConfig(benchmark::State& state) {
  for (auto _ : state) {
    Result<LsrConfig> config = ParseLsrConfig(kLsrConfig);
    if (!config.ok()) {
      state.SkipWithError(config.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(config);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(std::char_traits<char>::length(kLsrConfig)));
}
BENCHMARK(BM_ParseLsrConfig);

// ---------------------------------------------------------------------------------------
// Loopback: the test PKI, written once, and servers that stay up for the whole program.

using harness::TlsServerConfig;
using harness::TlsTestServer;
using Clock = std::chrono::steady_clock;

constexpr char kRequest[] =
    "GET /fpconform/edge HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

// Loopback holds the PKI, its files and one server per role.
struct Loopback {
  std::optional<certs::Pki> pki;
  std::optional<TempDir> dir;
  std::unique_ptr<TlsTestServer> edge;      // edge-a, ECDSA P-256, any TLS version
  std::unique_ptr<TlsTestServer> platform;  // platform, ECDSA P-256
  std::string error;

  const certs::Certificate& Cert(const char* name) const { return *pki->Find(name); }
  std::string Bundle(const char* name) const {
    return (dir->path() / (std::string(name) + ".bundle.pem")).string();
  }
  Sha256Digest Digest(const char* name) const {
    Sha256Digest digest{};
    std::copy(Cert(name).sha256.begin(), Cert(name).sha256.end(), digest.begin());
    return digest;
  }
};

std::unique_ptr<TlsTestServer> StartServer(const certs::Certificate& leaf, std::string* error) {
  TlsServerConfig config;
  for (const certs::Certificate* cert : leaf.Chain()) {
    config.chain.push_back(cert->cert.get());
  }
  config.key = leaf.key.get();
  Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
  if (!server.ok()) {
    *error = server.error().message;
    return nullptr;
  }
  return std::move(server).value();
}

// SharedLoopback returns the program's loopback set-up; `error` is set when it failed.
const Loopback& SharedLoopback() {
  static const Loopback* loopback = [] {
    signal(SIGPIPE, SIG_IGN);
    auto* l = new Loopback();
    Result<certs::PkiDescription> description =
        certs::LoadPkiDescription(certs::DefaultPkiDescriptionPath());
    Result<certs::Pki> pki = description.ok() ? certs::Pki::Generate(*description)
                                              : Result<certs::Pki>(description.error());
    Result<TempDir> dir = TempDir::Create("reference-bench-");
    if (!pki.ok() || !dir.ok()) {
      l->error = !pki.ok() ? pki.error().message : dir.error().message;
      return l;
    }
    l->pki.emplace(std::move(pki).value());
    l->dir.emplace(std::move(dir).value());
    if (Status written = l->pki->WriteTo(l->dir->path()); !written.ok()) {
      l->error = written.error().message;
      return l;
    }
    l->edge = StartServer(l->Cert("edge-a"), &l->error);
    l->platform = StartServer(l->Cert("platform"), &l->error);
    return l;
  }();
  return *loopback;
}

double Median(std::vector<double> samples) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

double Percentile90(std::vector<double> samples) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() * 9 / 10];
}

// EdgeAAllowlist returns the allowlist both verification benchmarks pin: edge-a alone.
Allowlist EdgeAAllowlist(const Loopback& l) {
  Allowlist allowlist;
  allowlist.Add(l.Digest("edge-a"), "certificates.fingerprint_allowlist[0]");
  return allowlist;
}

// The verification step alone (DecideServerCertificate on the edge-a chain, CA store of
// ca-all, host 127.0.0.1), without (0) and with (1) the fingerprint check.
void BM_DecideServerCertificate(benchmark::State& state) {
  const Loopback& l = SharedLoopback();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const Allowlist allowlist = EdgeAAllowlist(l);
  VerifyPolicy policy;
  policy.expected_host = "127.0.0.1";
  policy.allowlist = state.range(0) != 0 ? &allowlist : nullptr;
  UniquePtr<X509_STORE> store(X509_STORE_new());
  X509_STORE_load_file(store.get(), l.Bundle("ca-all").c_str());
  UniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (const certs::Certificate* cert : l.Cert("edge-a").Chain()) {
    sk_X509_push(untrusted.get(), UpRef(cert->cert.get()).release());
  }
  for (auto _ : state) {
    UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), l.Cert("edge-a").cert.get(), untrusted.get());
    X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
    Decision decision = DecideServerCertificate(policy, ctx.get());
    if (!decision.accepted) {
      state.SkipWithError(decision.text.c_str());
      break;
    }
  }
}
BENCHMARK(BM_DecideServerCertificate)->ArgName("pinned")->Arg(0)->Arg(1);

// One verified exchange on a real loopback connection (TCP connect, TLS handshake with the
// verification step, request, response, close), unpinned and pinned alternately in each
// iteration so that both see the same machine load. Counters: medians in microseconds and
// their ratio.
void BM_LoopbackExchangePinOverhead(benchmark::State& state) {
  const Loopback& l = SharedLoopback();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const Allowlist allowlist = EdgeAAllowlist(l);
  VerifyPolicy unpinned;
  unpinned.expected_host = "127.0.0.1";
  unpinned.ca_files = {l.Bundle("ca-all")};
  VerifyPolicy pinned = unpinned;
  pinned.allowlist = &allowlist;
  Result<std::unique_ptr<TlsClientContext>> contexts[2] = {TlsClientContext::Create(unpinned),
                                                           TlsClientContext::Create(pinned)};
  for (const auto& context : contexts) {
    if (!context.ok()) {
      state.SkipWithError(context.error().message.c_str());
      return;
    }
  }
  std::vector<double> samples[2];
  const int port = l.edge->port();
  for (auto _ : state) {
    for (int which = 0; which < 2; ++which) {
      Clock::time_point start = Clock::now();
      ExchangeResult result =
          Exchange("127.0.0.1", port, contexts[which]->get(), kRequest, ExchangeOptions{});
      samples[which].push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      if (!result.decision.accepted || !result.problem.empty()) {
        state.SkipWithError((result.decision.text + result.problem).c_str());
        return;
      }
    }
  }
  double plain = Median(samples[0]);
  double pin = Median(samples[1]);
  state.counters["unpinned_us"] = plain;
  state.counters["pinned_us"] = pin;
  state.counters["ratio"] = plain > 0 ? pin / plain : 0;
}
BENCHMARK(BM_LoopbackExchangePinOverhead)->Unit(benchmark::kMillisecond)->Iterations(1000);

// SpawnAndWait runs `argv` with stderr sent to /dev/null and returns its exit status, or -1.
int SpawnAndWait(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return -1;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A bare `fpref --exit-when-done` run, spawned and reaped, against servers already running:
// EMS (0: platform + one pinned https auto_bind endpoint) and LSR (1: one pinned EMS).
// Counters: median and 90th percentile wall time in milliseconds.
void BM_FprefExitWhenDone(benchmark::State& state) {
  const Loopback& l = SharedLoopback();
  if (!l.error.empty()) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  const bool lsr = state.range(0) == 1;
  const std::string fingerprint = FormatFingerprint(l.Digest("edge-a"), FingerprintStyle::kOpenSsl);
  std::string config;
  if (lsr) {
    config =
        "scripts.rap_host = \"127.0.0.1\"\nscripts.rap_port = " + std::to_string(l.edge->port()) +
        "\nscripts.rap_ssl = true\nscripts.rap_cert_file = \"" + l.Bundle("ca-all") +
        "\"\nscripts.fingerprint_allowlist = \"" + fingerprint + "\"\n";
  } else {
    config = R"({"ws_servers": [{"host": "127.0.0.1", "port": )" +
             std::to_string(l.platform->port()) + R"(}], "certificates": {"cert_chain": [")" +
             l.Bundle("ca-all") + R"("], "fingerprint_allowlist": [")" + fingerprint +
             R"("]}, "auto_bind": [{"name": "edge", "host": "127.0.0.1", "port": )" +
             std::to_string(l.edge->port()) + R"(, "protocol": "https", "path": "/x"}]})";
  }
  std::string path = (l.dir->path() / (lsr ? "config.lua" : "config.json")).string();
  if (!WriteFile(path, config).ok()) {
    state.SkipWithError("cannot write the configuration");
    return;
  }
  const std::vector<std::string> argv = {FPREF_PATH, "--product", lsr ? "lsr" : "ems",
                                         "--config", path,        "--exit-when-done"};
  std::vector<double> samples;
  for (auto _ : state) {
    Clock::time_point start = Clock::now();
    int status = SpawnAndWait(argv);
    samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    if (status != 0) {
      state.SkipWithError(("fpref exited with status " + std::to_string(status)).c_str());
      return;
    }
  }
  state.counters["median_ms"] = Median(samples);
  state.counters["p90_ms"] = Percentile90(samples);
}
BENCHMARK(BM_FprefExitWhenDone)
    ->ArgName("lsr")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(300);

// RecordingReporter prints as usual and keeps each run's real time per iteration, so that
// main can print the lookup ratios.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) {
        nanoseconds_[run.benchmark_name()] = run.GetAdjustedRealTime();
        for (const auto& [counter, value] : run.counters) {
          counters_[run.benchmark_name() + ":" + counter] = value.value;
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Time returns the real time per iteration of `name`, or 0 when it did not run.
  double Time(const std::string& name) const {
    auto it = nanoseconds_.find(name);
    return it == nanoseconds_.end() ? 0 : it->second;
  }
  // Counter returns counter `counter` of benchmark `name`, or nullopt when it did not run.
  std::optional<double> Counter(const std::string& name, const std::string& counter) const {
    auto it = counters_.find(name + ":" + counter);
    return it == counters_.end() ? std::nullopt : std::optional<double>(it->second);
  }

 private:
  std::map<std::string, double> nanoseconds_;
  std::map<std::string, double> counters_;
};

}  // namespace
}  // namespace fpconform::ref

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  fpconform::ref::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  for (const char* name : {"BM_AllowlistHitLast", "BM_AllowlistMiss"}) {
    double one = reporter.Time(std::string(name) + "/1");
    double many = reporter.Time(std::string(name) + "/10000");
    if (one > 0 && many > 0) {
      std::printf("%s: 10000 entries : 1 entry = %.2f (goal <= 1.2)\n", name, many / one);
    }
  }
  const std::string overhead = "BM_LoopbackExchangePinOverhead/iterations:1000";
  if (auto ratio = reporter.Counter(overhead, "ratio")) {
    std::printf("loopback exchange, pinned : unpinned = %.3f (%.0f us : %.0f us, goal <= 1.05)\n",
                *ratio, reporter.Counter(overhead, "pinned_us").value_or(0),
                reporter.Counter(overhead, "unpinned_us").value_or(0));
  }
  for (const char* run : {"BM_FprefExitWhenDone/lsr:0/iterations:300/real_time",
                          "BM_FprefExitWhenDone/lsr:1/iterations:300/real_time"}) {
    if (auto median = reporter.Counter(run, "median_ms")) {
      std::printf("fpref --exit-when-done (%s): median %.2f ms, p90 %.2f ms\n",
                  std::string(run).find("lsr:1") != std::string::npos ? "LSR" : "EMS", *median,
                  reporter.Counter(run, "p90_ms").value_or(0));
    }
  }
  return 0;
}
