// Invoke() allocates nothing: on every shared model, both backends, 1 and 2
// threads, no C++ allocation happens inside Invoke() (global operator new is
// counted while armed) and the C heap's in-use bytes do not change
// (mallinfo2), so neither our kernels nor XNNPACK's operators allocate per
// frame.
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "support/catch_compat.h"

#include "lookout/runtime/interpreter.h"
#include "lookout/runtime/model.h"
#include "support/test_support.h"

namespace {
std::atomic<bool> g_armed{false};
std::atomic<long> g_news{0};
}  // namespace

// AddressSanitizer owns operator new/delete (it checks new/free pairing), so
// the sanitized build keeps its own and checks only the heap's in-use bytes.
// noinline: GCC 14 would inline these into the library's templates and then
// report the malloc/free pair as a new/free mismatch.
#if !defined(__SANITIZE_ADDRESS__)
#define LOOKOUT_REPLACED __attribute__((noinline))
LOOKOUT_REPLACED void* operator new(std::size_t size) {
  if (g_armed.load(std::memory_order_relaxed)) g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
LOOKOUT_REPLACED void* operator new[](std::size_t size) { return operator new(size); }
LOOKOUT_REPLACED void operator delete(void* p) noexcept { std::free(p); }
LOOKOUT_REPLACED void operator delete[](void* p) noexcept { std::free(p); }
LOOKOUT_REPLACED void operator delete(void* p, std::size_t) noexcept { std::free(p); }
LOOKOUT_REPLACED void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace lr = lookout::runtime;
namespace fs = std::filesystem;

TEST_CASE("Invoke() allocates nothing on any backend or thread count", "[runtime][alloc]") {
  // The default model, and every shared model when ../shared is there.
  std::vector<fs::path> models = {lookout::testing::SourceDir() / "models/mobilenet_v2_1.0_224_quant.tflite"};
  if (lookout::testing::HaveShared("models", nullptr)) {
    for (const auto& entry : fs::directory_iterator(lookout::testing::SharedDir() / "models")) {
      if (entry.path().extension() == ".tflite" && entry.path().filename() != models[0].filename()) {
        models.push_back(entry.path());
      }
    }
    REQUIRE(models.size() >= 8);
  }
  for (const auto& path : models) {
    for (const auto backend : {lr::KernelFamilies::ReferenceOnly(), lr::KernelFamilies::All()}) {
      for (const int threads : {1, 2}) {
        // The reference kernels are slow (seconds under ASan) and share one
        // code path: the smallest model suffices for them.
        const std::string reference_model = models.size() > 1 ? "mobilenet_v1_0.25_128_quant"
                                                                : "mobilenet_v2_1.0_224_quant";
        if (backend == lr::KernelFamilies::ReferenceOnly() && (threads == 2 || path.stem() != reference_model)) {
          continue;
        }
        INFO(path.filename().string() << " " << lr::BackendName(backend) << " threads " << threads);
        auto model = lr::Model::FromFile(path.string());
        REQUIRE(model.ok());
        lr::InterpreterOptions options;
        options.kernels = backend;
        options.num_threads = threads;
        auto interpreter = lr::Interpreter::Create(*model, options);
        REQUIRE(interpreter.ok());
        auto& interp = **interpreter;
        REQUIRE(interp.AllocateTensors().ok());
        auto in = interp.input_data(0);
        for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 31 + 7);
        REQUIRE(interp.Invoke().ok());  // first call: lazy library state, if any
        const size_t before = mallinfo2().uordblks;
        g_news = 0;
        g_armed = true;
        const bool ok = interp.Invoke().ok() && interp.Invoke().ok();
        g_armed = false;
        const size_t after = mallinfo2().uordblks;
        CHECK(ok);
        CHECK(g_news.load() == 0);
        CHECK(after == before);
      }
    }
  }
}
