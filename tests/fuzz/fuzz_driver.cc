// A short, reproducible fuzz run without libFuzzer, for the test suite (it
// runs in the plain and the ASan/UBSan builds alike): every file given
// (regression fixtures, the seed corpus) goes through the model fuzzer's
// LLVMFuzzerTestOneInput, then a fixed-seed series of mutated copies of them
// (bit flips, boundary bytes and int32s, truncations, insertions, deletions,
// copied ranges).
//
//   fuzz_driver [--mutations=N] [--seed=S] [--dump=K:FILE] [--verbose] PATH...
//
// PATH is a model file or a directory of them (read in name order). Files
// named ok_* must run in every configuration (model_fuzzer.h); bad_* must be
// refused in all. With --dump,
// mutation K is written to FILE instead of run: a crash report names K.
// --verbose prints what each file reached and why it was refused.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "lookout/runtime/model.h"
#include "model_fuzzer.h"
#include "support/splitmix64.h"

#if defined(__SANITIZE_ADDRESS__)
#define LOOKOUT_HAVE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOKOUT_HAVE_SANITIZER 1
#endif
#endif
#ifdef LOOKOUT_HAVE_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

namespace fs = std::filesystem;
using lookout::fuzz::Stage;

namespace {

using Rng = lookout::testing::SplitMix64;

struct Input {
  std::string name;
  std::vector<uint8_t> bytes;
};

// What is running, for the crash handlers.
char g_current[512] = "nothing yet";

void PrintCurrent() {
  const char prefix[] = "\nfuzz_driver: crashed on ";
  ssize_t ignored = write(STDERR_FILENO, prefix, sizeof(prefix) - 1);
  ignored = write(STDERR_FILENO, g_current, strlen(g_current));
  ignored = write(STDERR_FILENO, "\n", 1);
  (void)ignored;
}

void OnSignal(int sig) {
  PrintCurrent();
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallCrashReport() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) signal(sig, OnSignal);
#ifdef LOOKOUT_HAVE_SANITIZER
  __sanitizer_set_death_callback(PrintCurrent);
#endif
}

std::vector<uint8_t> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Applies 1 or 2 edits (now and then up to 8) to `bytes`; describes them in `log`.
void Mutate(Rng& rng, std::vector<uint8_t>& bytes, std::string& log) {
  static constexpr uint8_t kBytes[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
  static constexpr uint32_t kInt32s[] = {0,       1,          2,           3,           4,
                                         0xFF,    0x100,      0xFFFF,      0x10000,     0x40000000,
                                         0x7FFFFFFF, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
  const size_t edits = rng.Below(8) == 0 ? 1 + rng.Below(8) : 1 + rng.Below(2);
  for (size_t e = 0; e < edits; ++e) {
    if (bytes.empty()) {
      bytes.push_back(static_cast<uint8_t>(rng.Next()));
      continue;
    }
    const size_t size = bytes.size();
    const size_t pos = rng.Below(size);
    char entry[96] = "";
    // Mostly edits that keep the flatbuffer's layout (most of the rest are
    // refused by its verifier).
    switch (rng.Below(20)) {
      case 0: case 1: case 2: case 3: case 4: case 5: {
        const int bit = static_cast<int>(rng.Below(8));
        bytes[pos] ^= static_cast<uint8_t>(1u << bit);
        std::snprintf(entry, sizeof(entry), " flip@%zu.%d", pos, bit);
        break;
      }
      case 6: case 7:
        bytes[pos] = static_cast<uint8_t>(rng.Next());
        std::snprintf(entry, sizeof(entry), " set@%zu=%u", pos, bytes[pos]);
        break;
      case 8: case 9:
        bytes[pos] = kBytes[rng.Below(std::size(kBytes))];
        std::snprintf(entry, sizeof(entry), " set@%zu=%u", pos, bytes[pos]);
        break;
      case 10: case 11: case 12: case 13: case 14: {
        // Flatbuffer scalars, offsets, indices and dimensions are 4-byte aligned.
        const size_t at = pos & ~size_t{3};
        if (at + 4 > size) break;
        const uint32_t v = kInt32s[rng.Below(std::size(kInt32s))];
        std::memcpy(bytes.data() + at, &v, sizeof(v));
        std::snprintf(entry, sizeof(entry), " int32@%zu=%u", at, v);
        break;
      }
      case 15:
        bytes.resize(pos);
        std::snprintf(entry, sizeof(entry), " cut@%zu", pos);
        break;
      case 16: {
        const size_t n = 1 + rng.Below(16);
        std::vector<uint8_t> extra(n);
        for (uint8_t& b : extra) b = static_cast<uint8_t>(rng.Next());
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos), extra.begin(), extra.end());
        std::snprintf(entry, sizeof(entry), " insert@%zu+%zu", pos, n);
        break;
      }
      case 17: {
        const size_t n = std::min(size - pos, 1 + rng.Below(16));
        bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                    bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
        std::snprintf(entry, sizeof(entry), " erase@%zu-%zu", pos, n);
        break;
      }
      default: {
        const size_t n = std::min(size - pos, 4 + rng.Below(29));
        const size_t to = rng.Below(size - n + 1);
        std::memmove(bytes.data() + to, bytes.data() + pos, n);
        std::snprintf(entry, sizeof(entry), " copy@%zu-%zu>%zu", pos, n, to);
        break;
      }
    }
    log += entry;
  }
}

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--mutations=N] [--seed=S] [--dump=K:FILE] [--verbose] PATH...\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mutations = 0;
  uint64_t seed = 1;
  long dump_index = -1;
  std::string dump_path;
  bool verbose = false;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      verbose = true;
    } else if (StartsWith(arg, "--mutations=")) {
      mutations = std::strtoull(arg.c_str() + 12, nullptr, 10);
    } else if (StartsWith(arg, "--seed=")) {
      seed = std::strtoull(arg.c_str() + 7, nullptr, 0);
    } else if (StartsWith(arg, "--dump=")) {
      const size_t colon = arg.find(':');
      if (colon == std::string::npos) return Usage(argv[0]);
      dump_index = std::strtol(arg.c_str() + 7, nullptr, 10);
      dump_path = arg.substr(colon + 1);
    } else if (StartsWith(arg, "--")) {
      return Usage(argv[0]);
    } else {
      paths.emplace_back(arg);
    }
  }
  if (paths.empty()) return Usage(argv[0]);

  std::vector<Input> inputs;
  for (const fs::path& path : paths) {
    std::vector<fs::path> files;
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else if (fs::is_regular_file(path)) {
      files.push_back(path);
    } else {
      std::fprintf(stderr, "fuzz_driver: %s: no such file or directory\n", path.c_str());
      return 2;
    }
    for (const fs::path& f : files) inputs.push_back({f.string(), ReadFile(f)});
  }
  // Mutations start from the inputs that load (a truncated file mostly
  // stays refused at load whatever else changes).
  std::vector<const Input*> bases;
  for (const Input& input : inputs) {
    if (lookout::runtime::Model::FromBuffer(input.bytes).ok()) bases.push_back(&input);
  }
  if (bases.empty()) {
    for (const Input& input : inputs) bases.push_back(&input);
  }
  if (dump_index >= 0) {
    Rng rng(seed);
    for (size_t k = 0; k < mutations && static_cast<long>(k) <= dump_index; ++k) {
      const Input& base = *bases[rng.Below(bases.size())];
      std::vector<uint8_t> bytes = base.bytes;
      std::string log;
      Mutate(rng, bytes, log);
      if (static_cast<long>(k) != dump_index) continue;
      std::ofstream out(dump_path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      std::printf("mutation %zu of %s:%s -> %s\n", k, base.name.c_str(), log.c_str(), dump_path.c_str());
      return out ? 0 : 1;
    }
    std::fprintf(stderr, "fuzz_driver: --dump index %ld is not below --mutations=%zu\n", dump_index, mutations);
    return 2;
  }

  InstallCrashReport();
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int failures = 0;
  for (const Input& input : inputs) {
    std::snprintf(g_current, sizeof(g_current), "%s", input.name.c_str());
    const double begin = seconds();
    LLVMFuzzerTestOneInput(input.bytes.data(), input.bytes.size());
    const double took = seconds() - begin;
    const auto& outcome = lookout::fuzz::LastOutcome();
    const std::string name = fs::path(input.name).filename().string();
    bool ran = true, refused = true;
    std::string stages;
    for (int c = 0; c < lookout::fuzz::kConfigs; ++c) {
      ran = ran && outcome.stage[c] == Stage::kInvoked;
      refused = refused && outcome.stage[c] < Stage::kSkipped;
      stages += std::string(c ? " / " : "") + lookout::fuzz::StageName(outcome.stage[c]);
    }
    if (verbose) {
      std::printf("%s (%.1f ms): %s%s%s\n", name.c_str(), took * 1e3, stages.c_str(),
                  *outcome.message ? ": " : "", outcome.message);
    }
    if (StartsWith(name, "ok_") && !ran) {
      std::fprintf(stderr, "FAIL %s: expected to run everywhere, got %s: %s\n", input.name.c_str(),
                   stages.c_str(), outcome.message);
      ++failures;
    }
    if (StartsWith(name, "bad_") && !refused) {
      std::fprintf(stderr, "FAIL %s: expected a refusal, got %s\n", input.name.c_str(), stages.c_str());
      ++failures;
    }
  }
  std::printf("%zu files in %.2f s, %d unexpected outcomes\n", inputs.size(), seconds(), failures);

  if (mutations > 0) {
    Rng rng(seed);
    std::map<Stage, size_t> stages;  // furthest stage of the configurations
    for (size_t k = 0; k < mutations; ++k) {
      const Input& base = *bases[rng.Below(bases.size())];
      std::vector<uint8_t> bytes = base.bytes;
      std::string log;
      Mutate(rng, bytes, log);
      std::snprintf(g_current, sizeof(g_current),
                    "mutation %zu (seed %llu) of %s:%.300s; rerun with --dump=%zu:FILE to write it",
                    k, static_cast<unsigned long long>(seed), base.name.c_str(), log.c_str(), k);
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      const auto& outcome = lookout::fuzz::LastOutcome();
      ++stages[*std::max_element(std::begin(outcome.stage), std::end(outcome.stage))];
    }
    std::printf("%zu mutations from %zu files (seed %llu) in %.2f s:", mutations, bases.size(),
                static_cast<unsigned long long>(seed), seconds());
    for (Stage s : {Stage::kLoad, Stage::kCreate, Stage::kAllocate, Stage::kSkipped, Stage::kInvoked}) {
      std::printf(" %zu %s,", stages[s], lookout::fuzz::StageName(s));
    }
    std::printf("\n");
    // The fixed seed must keep reaching every stage, or the run stops testing them.
    for (Stage s : {Stage::kLoad, Stage::kCreate, Stage::kAllocate, Stage::kInvoked}) {
      if (stages[s] == 0) {
        std::fprintf(stderr, "FAIL: no mutation stopped at stage '%s'\n", lookout::fuzz::StageName(s));
        ++failures;
      }
    }
  }
  return failures == 0 ? 0 : 1;
}
