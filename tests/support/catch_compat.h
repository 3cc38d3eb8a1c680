// Catch2 2 (Debian 12, single header) and Catch2 3 (Debian 13, per-feature
// headers, Catch::Approx, ContainsSubstring) behind one include, chosen by
// the version CMake found (LOOKOUT_CATCH2_MAJOR).
#ifndef LOOKOUT_TESTS_SUPPORT_CATCH_COMPAT_H_
#define LOOKOUT_TESTS_SUPPORT_CATCH_COMPAT_H_

#include <string>

#if LOOKOUT_CATCH2_MAJOR >= 3
#include <catch2/catch_all.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
#endif

namespace lookout::testing {

/// String matchers under the same names in both versions.
inline auto Contains(const std::string& text) {
#if LOOKOUT_CATCH2_MAJOR >= 3
  return Catch::Matchers::ContainsSubstring(text);
#else
  return Catch::Matchers::Contains(text);
#endif
}
inline auto StartsWith(const std::string& text) { return Catch::Matchers::StartsWith(text); }
inline auto EndsWith(const std::string& text) { return Catch::Matchers::EndsWith(text); }

/// The line a skipped test prints; CTest reports a test whose output holds
/// it as skipped (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt), and
/// scripts/test.sh lists those lines with their reasons.
inline constexpr char kSkipMarker[] = "LOOKOUT-TEST-SKIPPED";

}  // namespace lookout::testing

/// Ends the current test case as skipped, saying why: Catch2 3's SKIP, or on
/// Catch2 2 (which has none) a message and a return. Either way the test
/// prints "LOOKOUT-TEST-SKIPPED <test name>: <reason>".
#if LOOKOUT_CATCH2_MAJOR >= 3
#define LOOKOUT_SKIP(reason)                                                                  \
  do {                                                                                        \
    ::lookout::testing::PrintSkip(reason);                                                    \
    SKIP(reason);                                                                             \
  } while (false)
#else
#define LOOKOUT_SKIP(reason)                                                                  \
  do {                                                                                        \
    ::lookout::testing::PrintSkip(reason);                                                    \
    return;                                                                                   \
  } while (false)
#endif

#include <iostream>

namespace lookout::testing {
inline void PrintSkip(const std::string& reason) {
  std::cout << kSkipMarker << " " << Catch::getResultCapture().getCurrentTestName() << ": " << reason
            << std::endl;
}
}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_SUPPORT_CATCH_COMPAT_H_
