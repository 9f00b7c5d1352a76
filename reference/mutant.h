// The compile-time switch that turns fpref into one of its mutants (reference/mutants/).
//
// A mutant is fpref with one deliberate, realistic defect, built to prove that the suite
// catches it. Each mutation point in the reference sources reads
//
//   if constexpr (kMutant == Mutant::kSha1Fingerprint) {
//     ...the defect...
//   }
//
// The shipped fpref and the library are compiled without FPREF_MUTANT, so kMutant is kNone,
// every such branch is discarded at compile time, and they contain no defect code and no
// run-time switch. A mutant binary recompiles only the sources that hold its mutation points
// with -DFPREF_MUTANT=k<Id> (reference/mutants/mutants.json lists them); everything else is
// the reference's own objects. Use kMutant only in .cc files: a header that tested it would
// be compiled differently in the two kinds of objects linked into one mutant.
#ifndef FPCONFORM_REFERENCE_MUTANT_H_
#define FPCONFORM_REFERENCE_MUTANT_H_

#ifndef FPREF_MUTANT
#define FPREF_MUTANT kNone
#endif

namespace fpconform::ref {

// Mutant: the defect (or, for a legitimate variant, the different choice) compiled into
// this translation unit. The list and the description of each live in
// reference/mutants/mutants.json, which names these enumerators.
enum class Mutant {
  kNone,  // the reference: no defect
  kIgnoreAllowlist,
  kPinReplacesCaCheck,
  kPinRescuesCaFailure,
  kSha1Fingerprint,
  kPublicKeyHash,
  kAnyChainCertificate,
  kLastChainCertificate,
  kCaseSensitiveCompare,
  kColonSignificant,
  kFirstEntryOnly,
  kPrefixMatch,
  kAccept63Digits,
  kEmptyAllowlistDisables,
  kLegacyKeyIgnored,
  kLegacyKeyHonoured,
  kPlatformPinned,
  kPlatformNoHostName,
  kLsrFirstItemOnly,
  kLsrItemsUntrimmed,
  kDropBadEntries,
  kRequestBeforeCheck,
  kExitAfterReject,
  kCrashOnInvalidConfig,
  kListedExpiredAccepted,
  kValidateOffDisablesPin,
  kEdgeCaFromCertChain,
  kSelfSignedSkipsPin,
  kFixedSizeAllowlist,
  kSelfSignedForgivesAll,
  kHostNameOffDisablesPin,
  kInvalidConfigExitsZero,
  kLegacyKeyVagueDiagnostic,
  // Defects added with the blind-spot scenarios (parsers, caches, comparisons, lifecycle).
  kLastEntryOnly,
  kStopAtBadEntry,
  kAcceptCachedPerHost,
  kRejectCachedPerHost,
  kAllowlistMovedIntoFirstEdge,
  kInsecureRetryAfterReject,
  kPinSkippedOnTls12,
  kEdgeHostNameUnchecked,
  kLegacyKeyCheckedOnlyAlone,
  kEmsNonStringsSkipped,
  kLsrSubstringSearch,
  kConfigReadTruncated,
  kColonGroupingStrict,
  kPlatformCaFromHttpClientCaCerts,
  kVerdictCachedBySubject,
  kSuffixMatch,
  kSkipFirstByte,
  kEndsOnlyCompare,
  kVerdictCachedPerEndpoint,
  kDelayedUnpinnedReconnect,
  kBootedFallback,
  kLegacyMessageConsoleOnly,
  // Legitimate variants: choices the documentation leaves open (kind "variant").
  kPlainHttpRefused,
  kEdgesAfterPlatform,
  kRetryRejected,
  kTcpProbe,
  kDiagnosticsLogOnly,
  kLsrEmptyItemsSkipped,
  kDocumentedTwoLineAccepted,
  kLowerCaseRefused,
  kOpensslFormsAccepted,
  kEmsLoneStringAsList,
  kSelfSignedNeverAllowed,
};

// kMutant: the defect of this build; Mutant::kNone in fpref and in every library. Not
// `inline`: each translation unit has its own constant (internal linkage), so objects
// compiled with different FPREF_MUTANT values can be linked together without an ODR clash.
constexpr Mutant kMutant = Mutant::FPREF_MUTANT;

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_MUTANT_H_
