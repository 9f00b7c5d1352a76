// Generation of the test PKI with OpenSSL 3.
#include "certs/pki.h"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <utility>

#include "base/hex.h"

namespace fpconform::certs {
namespace {

constexpr int64_t kSecondsPerDay = 24 * 3600;

Error CryptoError(const std::string& what) {
  return MakeError(ErrorCode::kCrypto, what + ": " + OpenSslErrors());
}

// Returns the content of a memory BIO.
std::string BioText(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<size_t>(length)) : std::string();
}

Result<std::string> CertificatePem(X509* cert) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return CryptoError("PEM encoding of a certificate");
  }
  return BioText(bio.get());
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return CryptoError("PEM encoding of a private key");
  }
  return BioText(bio.get());
}

std::string NameText(const X509_NAME* name) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return "";
  }
  return BioText(bio.get());
}

// Digests holds the digests the manifest needs, fetched once per generation.
struct Digests {
  UniquePtr<EVP_MD> sha256{EVP_MD_fetch(nullptr, "SHA256", nullptr)};
  UniquePtr<EVP_MD> sha1{EVP_MD_fetch(nullptr, "SHA1", nullptr)};
};

template <size_t N>
bool Digest(const EVP_MD* md, const std::vector<uint8_t>& data, std::array<uint8_t, N>* out) {
  unsigned int length = 0;
  return EVP_MD_get_size(md) == static_cast<int>(N) &&
         EVP_Digest(data.data(), data.size(), out->data(), &length, md, nullptr) == 1 &&
         length == N;
}

// GenerateKeys makes every key of the description, in its order. RSA keys are
// slow, so they are made on worker threads (at most one per core) while this
// thread makes the EC keys.
Result<std::vector<UniquePtr<EVP_PKEY>>> GenerateKeys(const std::vector<KeySpec>& specs) {
  std::vector<UniquePtr<EVP_PKEY>> keys(specs.size());
  std::vector<Error> errors(specs.size());
  std::vector<size_t> slow;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].type == KeyType::kRsa2048) {
      slow.push_back(i);
    }
  }
  auto make = [&](size_t i) {
    Result<UniquePtr<EVP_PKEY>> key = GenerateKey(specs[i].type);
    if (key.ok()) {
      keys[i] = std::move(key).value();
    } else {
      errors[i] = Prefixed("keys (" + specs[i].name + ")", key.take_error());
    }
  };
  std::atomic<size_t> next_slow{0};
  auto worker = [&] {
    for (size_t j = next_slow++; j < slow.size(); j = next_slow++) {
      make(slow[j]);
    }
  };
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(cores, slow.size()); ++t) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // Fewer threads; the ones started (or this thread, below) take
              // the rest.
    }
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].type != KeyType::kRsa2048) {
      make(i);
    }
  }
  if (threads.empty()) {
    worker();  // No thread could start (or there is no RSA key): make them
               // here.
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    if (keys[i] == nullptr) {
      return errors[i];
    }
  }
  return keys;
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  UniquePtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return CryptoError(std::string("extension ") + OBJ_nid2sn(nid) + " = " + value);
  }
  return Status::Ok();
}

Status AddSubjectAltNames(X509* cert, const CertificateSpec& spec) {
  if (spec.dns_names.empty() && spec.ip_addresses.empty()) {
    return Status::Ok();
  }
  UniquePtr<GENERAL_NAMES> names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) {
    return CryptoError("subjectAltName");
  }
  auto push = [&](int type, UniquePtr<ASN1_STRING> value) {
    UniquePtr<GENERAL_NAME> name(GENERAL_NAME_new());
    if (name == nullptr || value == nullptr) {
      return false;
    }
    GENERAL_NAME_set0_value(name.get(), type, value.release());
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return false;
    }
    name.release();  // Owned by `names` now.
    return true;
  };
  for (const std::string& dns : spec.dns_names) {
    UniquePtr<ASN1_STRING> text(ASN1_IA5STRING_new());
    if (text == nullptr ||
        ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) != 1 ||
        !push(GEN_DNS, std::move(text))) {
      return CryptoError("subjectAltName DNS:" + dns);
    }
  }
  for (const std::string& ip : spec.ip_addresses) {
    if (!push(GEN_IPADD, UniquePtr<ASN1_STRING>(a2i_IPADDRESS(ip.c_str())))) {
      return CryptoError("subjectAltName IP:" + ip);
    }
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return CryptoError("subjectAltName");
  }
  return Status::Ok();
}

Status SetValidity(ASN1_TIME* field, time_t now, std::chrono::seconds offset) {
  int64_t seconds = offset.count();
  if (X509_time_adj_ex(field, static_cast<int>(seconds / kSecondsPerDay),
                       static_cast<long>(seconds % kSecondsPerDay), &now) == nullptr) {
    return CryptoError("validity");
  }
  return Status::Ok();
}

// Builds and signs `spec` into `out`, then fills the encodings and fingerprints
// (all but the chain, which needs every issuer done).
Status BuildCertificate(const CertificateSpec& spec, const std::string& organization,
                        KeyType key_type, EVP_PKEY* key, time_t now, const Digests& digests,
                        Certificate* out) {
  const Certificate* issuer = out->issuer;
  out->cert.reset(X509_new());
  X509* cert = out->cert.get();
  if (cert == nullptr || X509_set_version(cert, X509_VERSION_3) != 1) {
    return CryptoError("new certificate");
  }

  // A random positive serial of exactly 16 bytes: top bit clear, next bit set.
  uint8_t serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return CryptoError("serial");
  }
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x40);
  UniquePtr<BIGNUM> serial_bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (serial_bn == nullptr ||
      BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return CryptoError("serial");
  }

  UniquePtr<X509_NAME> subject(X509_NAME_new());
  auto add_entry = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(subject.get(), field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  if (subject == nullptr || !add_entry("O", organization) || !add_entry("CN", spec.common_name) ||
      X509_set_subject_name(cert, subject.get()) != 1 ||
      X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer->cert.get())
                                                   : subject.get()) != 1) {
    return CryptoError("names");
  }
  if (Status s = SetValidity(X509_getm_notBefore(cert), now, spec.not_before); !s.ok()) {
    return s;
  }
  if (Status s = SetValidity(X509_getm_notAfter(cert), now, spec.not_after); !s.ok()) {
    return s;
  }
  if (X509_set_pubkey(cert, key) != 1) {
    return CryptoError("public key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->cert.get() : cert, cert, nullptr, nullptr, 0);
  const bool rsa = key_type == KeyType::kRsa2048;
  struct Extension {
    int nid;
    const char* value;
  };
  std::vector<Extension> extensions;
  if (spec.ca) {
    extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"}};
    if (issuer != nullptr) {
      extensions.push_back({NID_authority_key_identifier, "keyid:always"});
    }
  } else {
    extensions = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage,
         rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"},
    };
  }
  for (const Extension& ext : extensions) {
    if (Status s = AddExtension(cert, &ctx, ext.nid, ext.value); !s.ok()) {
      return s;
    }
  }
  if (Status s = AddSubjectAltNames(cert, spec); !s.ok()) {
    return s;
  }
  EVP_PKEY* signing_key = issuer != nullptr ? issuer->key.get() : key;
  if (X509_sign(cert, signing_key, digests.sha256.get()) <= 0) {
    return CryptoError("signature");
  }

  int der_length = i2d_X509(cert, nullptr);
  if (der_length <= 0) {
    return CryptoError("DER encoding");
  }
  out->der.resize(static_cast<size_t>(der_length));
  uint8_t* der_out = out->der.data();
  if (i2d_X509(cert, &der_out) != der_length) {
    return CryptoError("DER encoding");
  }
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  int spki_length = i2d_X509_PUBKEY(spki, nullptr);
  std::vector<uint8_t> spki_der(spki_length > 0 ? static_cast<size_t>(spki_length) : 0);
  uint8_t* spki_out = spki_der.data();
  if (spki_length <= 0 || i2d_X509_PUBKEY(spki, &spki_out) != spki_length) {
    return CryptoError("SubjectPublicKeyInfo encoding");
  }
  if (!Digest(digests.sha256.get(), out->der, &out->sha256) ||
      !Digest(digests.sha1.get(), out->der, &out->sha1) ||
      !Digest(digests.sha256.get(), spki_der, &out->spki_sha256)) {
    return CryptoError("fingerprint");
  }
  Result<std::string> pem = CertificatePem(cert);
  if (!pem.ok()) {
    return pem.take_error();
  }
  out->pem = std::move(pem).value();
  Result<std::string> key_pem = PrivateKeyPem(key);
  if (!key_pem.ok()) {
    return key_pem.take_error();
  }
  out->key_pem = std::move(key_pem).value();
  out->key = UpRef(key);
  out->is_ca = spec.ca;
  out->subject = NameText(X509_get_subject_name(cert));
  out->issuer_name = NameText(X509_get_issuer_name(cert));
  out->serial_hex = HexEncode(serial);
  out->key_type = KeyTypeName(key_type);
  out->key_name = spec.key;
  out->dns_names = spec.dns_names;
  out->ip_addresses = spec.ip_addresses;
  out->not_before = now + static_cast<time_t>(spec.not_before.count());
  out->not_after = now + static_cast<time_t>(spec.not_after.count());
  return Status::Ok();
}

}  // namespace

Result<UniquePtr<EVP_PKEY>> GenerateKey(KeyType type) {
  const bool rsa = type == KeyType::kRsa2048;
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, rsa ? "RSA" : "EC", nullptr));
  bool ok = ctx != nullptr && EVP_PKEY_keygen_init(ctx.get()) > 0;
  if (ok && rsa) {
    ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) > 0;
  } else if (ok) {
    ok = EVP_PKEY_CTX_set_group_name(ctx.get(), type == KeyType::kEcP384 ? "P-384" : "P-256") > 0;
  }
  EVP_PKEY* raw = nullptr;
  if (ok) {
    ok = EVP_PKEY_generate(ctx.get(), &raw) > 0;
  }
  UniquePtr<EVP_PKEY> key(raw);
  if (!ok || key == nullptr) {
    return CryptoError(std::string("generating a key of type ") + KeyTypeName(type));
  }
  return key;
}

std::vector<const Certificate*> Certificate::Chain() const {
  std::vector<const Certificate*> chain = {this};
  for (const Certificate* c = issuer; c != nullptr && c->issuer != nullptr; c = c->issuer) {
    chain.push_back(c);
  }
  return chain;
}

Result<Pki> Pki::Generate(const PkiDescription& description, time_t now) {
  if (Status s = CheckPkiDescription(description); !s.ok()) {
    return s.take_error();
  }
  Digests digests;
  if (digests.sha256 == nullptr || digests.sha1 == nullptr) {
    return CryptoError("fetching SHA-256 and SHA-1");
  }
  Result<std::vector<UniquePtr<EVP_PKEY>>> keys = GenerateKeys(description.keys);
  if (!keys.ok()) {
    return keys.take_error();
  }
  auto key_index = [&](const std::string& name) {
    for (size_t i = 0; i < description.keys.size(); ++i) {
      if (description.keys[i].name == name) {
        return i;
      }
    }
    return description.keys.size();  // Not reached: CheckPkiDescription found every key.
  };

  Pki pki;
  pki.generated_at_ = now;
  pki.bundles_ = description.bundles;
  const std::vector<CertificateSpec>& specs = description.certificates;
  for (const CertificateSpec& spec : specs) {
    pki.certificates_.push_back(std::make_unique<Certificate>());
    pki.certificates_.back()->name = spec.name;
  }
  // Issuers first: each pass builds the certificates whose issuer is done. The
  // description has no cycles, so every pass builds at least one.
  std::vector<bool> done(specs.size(), false);
  for (size_t built = 0; built < specs.size();) {
    size_t built_before = built;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (done[i]) {
        continue;
      }
      Certificate* cert = pki.certificates_[i].get();
      if (!specs[i].issuer.empty()) {
        const Certificate* issuer = pki.Find(specs[i].issuer);
        if (issuer == nullptr || issuer->cert == nullptr) {
          continue;
        }
        cert->issuer = issuer;
      }
      size_t k = key_index(specs[i].key);
      Status status = BuildCertificate(specs[i], description.organization, description.keys[k].type,
                                       (*keys)[k].get(), now, digests, cert);
      if (!status.ok()) {
        return Prefixed("certificates (" + specs[i].name + ")", status.take_error());
      }
      done[i] = true;
      ++built;
    }
    if (built == built_before) {
      return MakeError(ErrorCode::kInternal, "issuer order: no certificate could be built");
    }
  }
  for (const std::unique_ptr<Certificate>& cert : pki.certificates_) {
    for (const Certificate* link : cert->Chain()) {
      cert->chain_pem += link->pem;
    }
  }
  return pki;
}

const Certificate* Pki::Find(std::string_view name) const {
  for (const std::unique_ptr<Certificate>& cert : certificates_) {
    if (cert->name == name) {
      return cert.get();
    }
  }
  return nullptr;
}

std::vector<const Certificate*> Pki::BundleCertificates(std::string_view bundle_name) const {
  std::vector<const Certificate*> out;
  for (const BundleSpec& bundle : bundles_) {
    if (bundle.name == bundle_name) {
      for (const std::string& member : bundle.certificates) {
        if (const Certificate* cert = Find(member); cert != nullptr) {
          out.push_back(cert);
        }
      }
    }
  }
  return out;
}

Result<std::string> Pki::BundlePem(std::string_view bundle_name) const {
  for (const BundleSpec& bundle : bundles_) {
    if (bundle.name == bundle_name) {
      std::string pem;
      for (const Certificate* cert : BundleCertificates(bundle_name)) {
        pem += cert->pem;
      }
      return pem;
    }
  }
  return MakeError(ErrorCode::kNotFound, "unknown bundle '" + std::string(bundle_name) + "'");
}

std::vector<std::string> Pki::BundleNames() const {
  std::vector<std::string> names;
  for (const BundleSpec& bundle : bundles_) {
    names.push_back(bundle.name);
  }
  return names;
}

}  // namespace fpconform::certs
