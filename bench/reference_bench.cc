// Costs of the reference library: fingerprint parsing and hashing, allowlist lookups by list
// size (the 10 000 : 1 ratio is printed at the end; the goal is at most 1.2), and loading a
// realistic EMS config.json and LSR config.lua.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "reference/allowlist.h"
#include "reference/ems_config.h"
#include "reference/fingerprint.h"
#include "reference/lsr_config.h"

namespace fpconform::ref {
namespace {

constexpr char kColon[] =
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
    "15:AD";
constexpr char kPlain[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// About 1.5 KB, shaped like a vendor config.json.
constexpr char kEmsConfig[] = R"json({
  "ws_servers": [{"host": "platform.example.test", "port": 443}],
  "resource": "/Thingworx/WS",
  "appKey": "00000000-1111-2222-3333-444444444444",
  "logger": {"level": "INFO", "publish_directory": "/var/log/ems", "max_file_storage": 2000000,
             "audit_target": false, "auto_flush": true},
  "http_server": {"host": "127.0.0.1", "port": 8000, "ssl": false, "authenticate": false},
  "ws_connection": {"encryption": "ssl", "verbose": false, "msg_timeout": 1000,
                    "keep_alive_interval": 60000, "connect_timeout": 10000},
  "certificates": {
    "validate": "true",
    "allow_self_signed": "false",
    "cert_chain": ["/opt/ems/certs/platform-ca.pem"],
    "http_client_ca_certs": "/opt/ems/certs/edge-ca.pem",
    "fingerprint_allowlist": [
      "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD",
      "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:E6:47"
    ]
  },
  "auto_bind": [
    {"name": "SteamSensor1", "host": "127.0.0.1", "port": 8443, "protocol": "https",
     "path": "/api", "gateway": false, "user": "", "password": ""},
    {"name": "SteamSensor2", "host": "127.0.0.1", "port": 8444, "protocol": "https",
     "path": "/api", "gateway": false},
    {"name": "EdgeGateway", "gateway": true}
  ],
  "file": {"buffer_size": 8192, "max_file_size": 8000000,
           "virtual_dirs": [{"other": "/opt/ems/other"}, {"tw_temp": "/opt/ems/tmp"}]}
})json";

// About 1.2 KB, shaped like an LSR config.lua.
constexpr char kLsrConfig[] = R"lua(-- Lua Script Resource configuration
scripts.log_level = "WARN"
scripts.script_resource_host = "0.0.0.0"
scripts.script_resource_port = 8001
scripts.script_resource_ssl = true
scripts.script_resource_authenticate = true
scripts.script_resource_userid = "admin"
scripts.script_resource_password = "changeme"
scripts.script_resource_certificate_chain = "/opt/lsr/certs/lsr.pem"
scripts.script_resource_private_key = "/opt/lsr/certs/lsr.key"

-- The EMS this LSR talks to
scripts.rap_host = "127.0.0.1"
scripts.rap_port = 8000
scripts.rap_ssl = true
scripts.rap_deny_selfsigned = true
scripts.rap_validate = true
scripts.rap_cert_file = "/opt/lsr/certs/ems-ca.pem"
scripts.rap_server_name = "ems.example.test"

scripts.fingerprint_allowlist = [[
  BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD,
  E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855
]]

scripts.SteamSensor1 = {
  file = "thing.lua",
  template = "SteamSensor",
  scanRate = 1000,
  taskRate = 30000,
}
scripts.SteamSensor2 = {
  file = "thing.lua",
  template = "SteamSensor",
  scanRate = 1000,
  taskRate = 30000,
}
)lua";

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
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (sizeof(kEmsConfig) - 1));
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
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (sizeof(kLsrConfig) - 1));
}
BENCHMARK(BM_ParseLsrConfig);

// RecordingReporter prints as usual and keeps each run's real time per iteration, so that
// main can print the lookup ratios.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) {
        nanoseconds_[run.benchmark_name()] = run.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // Time returns the real time per iteration of `name`, or 0 when it did not run.
  double Time(const std::string& name) const {
    auto it = nanoseconds_.find(name);
    return it == nanoseconds_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> nanoseconds_;
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
  return 0;
}
