// Times the generation of the test PKI (certs/pki.json) and, separately,
// RSA-2048 and ECDSA key generation. Figures are kept in certs/README.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "base/files.h"
#include "certs/pki.h"

namespace fpconform::certs {
namespace {

double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double Max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// One whole generation per iteration: every key (RSA concurrently), certificate
// and PEM.
void BM_GeneratePki(benchmark::State& state) {
  Result<PkiDescription> description = LoadPkiDescription(DefaultPkiDescriptionPath());
  if (!description.ok()) {
    state.SkipWithError(description.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    Result<Pki> pki = Pki::Generate(*description);
    if (!pki.ok()) {
      state.SkipWithError(pki.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(pki->certificates().data());
  }
}
BENCHMARK(BM_GeneratePki)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1)
    ->Repetitions(40)
    ->ComputeStatistics("min", Min)
    ->ComputeStatistics("max", Max)
    ->ReportAggregatesOnly(true);

void BM_ParseDescription(benchmark::State& state) {
  Result<std::string> text = ReadFile(DefaultPkiDescriptionPath());
  if (!text.ok()) {
    state.SkipWithError(text.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    Result<PkiDescription> description = ParsePkiDescription(*text, "pki.json");
    benchmark::DoNotOptimize(description.ok());
  }
}
BENCHMARK(BM_ParseDescription)->Unit(benchmark::kMicrosecond);

// One key of `type` per iteration.
void BM_GenerateKey(benchmark::State& state, KeyType type) {
  for (auto _ : state) {
    Result<UniquePtr<EVP_PKEY>> key = GenerateKey(type);
    if (!key.ok()) {
      state.SkipWithError(key.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(key->get());
  }
}
BENCHMARK_CAPTURE(BM_GenerateKey, rsa_2048, KeyType::kRsa2048)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->Repetitions(40)
    ->ComputeStatistics("min", Min)
    ->ComputeStatistics("max", Max)
    ->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_GenerateKey, ec_p256, KeyType::kEcP256)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(10)
    ->ComputeStatistics("min", Min)
    ->ComputeStatistics("max", Max)
    ->ReportAggregatesOnly(true);
BENCHMARK_CAPTURE(BM_GenerateKey, ec_p384, KeyType::kEcP384)
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(10)
    ->ComputeStatistics("min", Min)
    ->ComputeStatistics("max", Max)
    ->ReportAggregatesOnly(true);

}  // namespace
}  // namespace fpconform::certs

BENCHMARK_MAIN();
