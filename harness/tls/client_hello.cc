#include "harness/tls/client_hello.h"

#include <openssl/tls1.h>

#include <algorithm>
#include <cstdio>

namespace fpconform::harness {

std::string TlsVersionText(unsigned version) {
  switch (version) {
    case TLS1_3_VERSION:
      return "TLSv1.3";
    case TLS1_2_VERSION:
      return "TLSv1.2";
    case TLS1_1_VERSION:
      return "TLSv1.1";
    case TLS1_VERSION:
      return "TLSv1";
    case SSL3_VERSION:
      return "SSLv3";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "0x%04x", version);
      return buf;
    }
  }
}

bool IsGreaseVersion(unsigned version) {
  return (version & 0x0f0f) == 0x0a0a && (version >> 8) == (version & 0xff);
}

std::string ParseServerName(std::span<const uint8_t> body) {
  if (body.size() < 2) {
    return std::string();
  }
  size_t list_len = (static_cast<size_t>(body[0]) << 8) | body[1];
  size_t end = std::min(body.size(), 2 + list_len);
  size_t pos = 2;
  while (pos + 3 <= end) {
    unsigned type = body[pos];
    size_t name_len = (static_cast<size_t>(body[pos + 1]) << 8) | body[pos + 2];
    pos += 3;
    if (pos + name_len > end) {
      break;
    }
    if (type == TLSEXT_NAMETYPE_host_name) {
      return std::string(reinterpret_cast<const char*>(body.data() + pos), name_len);
    }
    pos += name_len;
  }
  return std::string();
}

std::vector<std::string> ParseSupportedVersions(std::span<const uint8_t> body) {
  std::vector<std::string> out;
  if (body.empty()) {
    return out;
  }
  size_t end = std::min(body.size(), 1 + static_cast<size_t>(body[0]));
  for (size_t pos = 1; pos + 2 <= end; pos += 2) {
    unsigned version = (static_cast<unsigned>(body[pos]) << 8) | body[pos + 1];
    if (!IsGreaseVersion(version)) {
      out.push_back(TlsVersionText(version));
    }
  }
  return out;
}

ClientHelloOffer ReadClientHelloOffer(unsigned legacy_version,
                                      std::optional<std::span<const uint8_t>> server_name,
                                      std::optional<std::span<const uint8_t>> supported_versions) {
  ClientHelloOffer offer;
  if (server_name.has_value()) {
    offer.sni = ParseServerName(*server_name);
  }
  if (supported_versions.has_value()) {
    offer.offered_versions = ParseSupportedVersions(*supported_versions);
  } else {
    offer.offered_versions.push_back(TlsVersionText(legacy_version));
  }
  return offer;
}

namespace {

// Extension returns the body of extension `type` of the ClientHello `ssl` is processing, or
// nullopt when the client did not send it.
std::optional<std::span<const uint8_t>> Extension(SSL* ssl, unsigned type) {
  const unsigned char* data = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, type, &data, &len) != 1) {
    return std::nullopt;
  }
  return std::span<const uint8_t>(data, len);
}

}  // namespace

ClientHelloOffer ClientHelloOfferOf(SSL* ssl) {
  return ReadClientHelloOffer(static_cast<unsigned>(SSL_client_hello_get0_legacy_version(ssl)),
                              Extension(ssl, TLSEXT_TYPE_server_name),
                              Extension(ssl, TLSEXT_TYPE_supported_versions));
}

}  // namespace fpconform::harness
