// Configuration rendering: a scenario, a product's base template and this run's servers
// become the config.json or config.lua a target reads.
#ifndef FPCONFORM_HARNESS_RENDER_H_
#define FPCONFORM_HARNESS_RENDER_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "certs/pki.h"
#include "harness/suite/scenario.h"

namespace fpconform::harness {

// RenderContext: what one scenario run knows when it writes the configuration.
struct RenderContext {
  const Scenario* scenario = nullptr;
  const certs::Pki* pki = nullptr;
  std::filesystem::path fixtures_dir;     // where the PKI was written (bundles, chains)
  std::map<std::string, uint16_t> ports;  // connection -> port ("platform", "edge", ...,
                                          // and "http_server" for the product's own port)
  // The host of every endpoint: "localhost" for a product that lacks IP-literal hosts.
  std::string host = "127.0.0.1";
};

// kListenerCertificate names the PKI certificate of the product's own TLS listener (EMS
// http_server, LSR script resource; C3).
inline constexpr std::string_view kListenerCertificate = "listener";

// ListenerFile returns the listener certificate's file with `suffix` (".chain.pem",
// ".key.pem") in `fixtures_dir`.
std::filesystem::path ListenerFile(const std::filesystem::path& fixtures_dir,
                                   std::string_view suffix);

// BundlePath returns the file of CA bundle `bundle` in `fixtures_dir`.
std::filesystem::path BundlePath(const std::filesystem::path& fixtures_dir,
                                 std::string_view bundle);

// RenderEntry writes one entry as text; kFiller entries are expanded by RenderEntries.
// Returns an Error when the entry names a certificate the PKI does not have.
Result<std::string> RenderEntry(const AllowlistEntrySpec& entry, const certs::Pki& pki);

// RenderEntries writes every entry of `spec` as text, expanding fillers.
Result<std::vector<std::string>> RenderEntries(const AllowlistSpec& spec, const certs::Pki& pki);

// LuaQuote returns `text` as a double-quoted Lua string literal with escapes.
std::string LuaQuote(std::string_view text);

// RenderLsrValue writes the Lua expression for an allowlist in the form the scenario asks.
Result<std::string> RenderLsrValue(const AllowlistSpec& spec, const certs::Pki& pki);

// RenderEmsConfig returns the text of config.json: the template (a JSON object) with the
// platform, auto_bind endpoints, certificates settings and allowlist of the scenario, then
// its ems_patch. Errors name the template or the scenario field.
Result<std::string> RenderEmsConfig(const RenderContext& context, std::string_view template_text,
                                    std::string_view template_name);

// RenderEmsBootedConfig returns the text of a valid, unpinned config.json.booted for the
// scenario (D8): RenderEmsConfig without any allowlist key and without ems_patch.
Result<std::string> RenderEmsBootedConfig(const RenderContext& context,
                                          std::string_view template_text,
                                          std::string_view template_name);

// RenderLsrConfig returns the text of config.lua: the template, then one assignment per
// setting of the scenario, then its lsr_append.
Result<std::string> RenderLsrConfig(const RenderContext& context, std::string_view template_text);

// RenderConfig returns the configuration `product` reads: RenderEmsConfig for the EMS,
// RenderLsrConfig for the LSR (which names no template in its errors). A generic client
// reads no configuration the suite renders: an Error saying so.
Result<std::string> RenderConfig(Product product, const RenderContext& context,
                                 std::string_view template_text, std::string_view template_name);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_RENDER_H_
