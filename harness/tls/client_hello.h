// What a TLS test server records of a ClientHello: the SNI host name and the offered
// protocol versions, read from the raw bytes of the server_name and supported_versions
// extensions. The extension bodies come from the client under test and are parsed here
// byte by byte, bounded by their own length fields and by the bytes actually present, so
// that a malformed or lying extension yields less, never a read past its end.
#ifndef FPCONFORM_HARNESS_TLS_CLIENT_HELLO_H_
#define FPCONFORM_HARNESS_TLS_CLIENT_HELLO_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace fpconform::harness {

// TlsVersionText returns the name of a wire version: "TLSv1.3", "TLSv1.2", "TLSv1.1",
// "TLSv1", "SSLv3", or "0x%04x" for any other value; never fails.
std::string TlsVersionText(unsigned version);

// IsGreaseVersion says whether `version` is a GREASE value (RFC 8701): 0x?A?A with both
// bytes equal.
bool IsGreaseVersion(unsigned version);

// ParseServerName returns the first host_name entry of a server_name extension body, or ""
// when there is none; entries of other types are skipped, and parsing stops at the first
// entry that does not fit in the body or in the list length it claims.
std::string ParseServerName(std::span<const uint8_t> body);

// ParseSupportedVersions returns the names (TlsVersionText) of the versions a ClientHello's
// supported_versions extension body lists, in its order and without GREASE values; a list
// length beyond the body is cut to the body, and an odd last byte is ignored.
std::vector<std::string> ParseSupportedVersions(std::span<const uint8_t> body);

// ClientHelloOffer: what a server records of one ClientHello.
struct ClientHelloOffer {
  std::string sni;  // empty when no host_name was sent
  // From supported_versions (GREASE left out); the legacy_version alone when the
  // extension is absent.
  std::vector<std::string> offered_versions;
};

// ReadClientHelloOffer combines the ClientHello's legacy_version with the bodies of its
// server_name and supported_versions extensions (nullopt: the extension is absent).
ClientHelloOffer ReadClientHelloOffer(unsigned legacy_version,
                                      std::optional<std::span<const uint8_t>> server_name,
                                      std::optional<std::span<const uint8_t>> supported_versions);

// ClientHelloOfferOf reads the offer of the ClientHello `ssl` is processing; call it only
// from a callback installed with SSL_CTX_set_client_hello_cb.
ClientHelloOffer ClientHelloOfferOf(SSL* ssl);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TLS_CLIENT_HELLO_H_
