// Catch2 2 (Debian 12, single header) and Catch2 3 (Debian 13, per-feature
// headers, Catch::Approx, ContainsSubstring) behind one include, chosen by
// the version CMake found (LOOKOUT_CATCH2_MAJOR).
#ifndef LOOKOUT_TESTS_CATCH_COMPAT_H_
#define LOOKOUT_TESTS_CATCH_COMPAT_H_

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

}  // namespace lookout::testing

#endif  // LOOKOUT_TESTS_CATCH_COMPAT_H_
