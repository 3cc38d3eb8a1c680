// lookout-classify: `lookout classify`, in its own binary because it needs
// OpenCV (image decoding, resizing) and the bench/inspect tools should not
// carry those libraries. `lookout classify ARGS` runs this with ARGS.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "classifier/classifier.h"
#include "cli/model_tools.h"

namespace lookout::daemon {
namespace {

struct ClassifyArgs {
  std::string model;
  std::string labels;
  int top_k = 5;
  int threads = 1;
  std::string backend = "xnnpack";
  bool json = false;
  std::string crop = "none";
  std::vector<float> mean = {127.5f, 127.5f, 127.5f};
  std::vector<float> std = {127.5f, 127.5f, 127.5f};
  std::vector<std::string> images;
};

int RunClassify(const ClassifyArgs& args) {
  ClassifierOptions options;
  options.model = args.model;
  options.labels = args.labels;
  options.interpreter.num_threads = args.threads;
  runtime::ParseBackend(args.backend, &options.interpreter.kernels);
  ApplyNoOwnKernels(std::getenv("LOOKOUT_NO_OWN_KERNELS"), &options.interpreter);
  options.top_k = args.top_k;
  options.preprocess.center_crop = args.crop == "center";
  for (int c = 0; c < 3; ++c) {
    options.preprocess.mean[c] = args.mean[c];
    options.preprocess.std[c] = args.std[c];
  }
  Classifier classifier(options);
  if (!args.json) std::printf("preprocess: %s\n", classifier.preprocessor().Describe().c_str());
  int failures = 0;
  for (const auto& path : args.images) {
    cv::Mat image;
    std::string error;
    try {
      image = cv::imread(path, cv::IMREAD_COLOR);
      if (image.empty()) error = "cannot decode image";
    } catch (const cv::Exception& e) {
      error = std::string("cannot decode image: ") + e.what();
    }
    if (!error.empty()) {
      ++failures;
      if (args.json) {
        std::cout << nlohmann::json{{"image", path}, {"error", error}}.dump() << std::endl;
      } else {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), error.c_str());
      }
      continue;
    }
    const Classification result = classifier.Classify(image);
    if (args.json) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& c : result.top_k) top.push_back({{"index", c.index}, {"label", c.label}, {"score", c.score}});
      std::cout << nlohmann::json{{"image", path}, {"top_k", top}}.dump() << std::endl;
    } else {
      std::printf("%s  (preprocess %.1f ms, inference %.1f ms)\n", path.c_str(), result.preprocess_ms,
                  result.inference_ms);
      for (const auto& c : result.top_k) std::printf("  %8.5f  %4d  %s\n", c.score, c.index, c.label.c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace lookout::daemon

int main(int argc, char** argv) {
  using namespace lookout::daemon;
  CLI::App app{"lookout classify"};
  app.name("lookout classify");
  ClassifyArgs classify;
  app.description(
      "Classify images. Each image is decoded (OpenCV), optionally centre-cropped to the input's aspect\n"
      "ratio (--crop center), resized to the input's height x width (area when shrinking, bilinear when\n"
      "enlarging), converted BGR -> RGB, normalised real = (pixel - mean) / std per channel, and quantized\n"
      "with the input tensor's scale/zero_point: q = round(real / scale) + zero_point (saturated; NHWC or\n"
      "NCHW as the input tensor says). Scores are the output dequantized: scale * (q - zero_point).");
  app.add_option("--model", classify.model, "Model (.tflite)")->required()->check(CLI::ExistingFile);
  app.add_option("--labels", classify.labels, "Label file, one label per line")->check(CLI::ExistingFile);
  app.add_option("--top-k", classify.top_k, "Classes to print per image")->check(CLI::Range(1, 1000));
  app.add_option("--threads", classify.threads, "Inference threads")->check(CLI::Range(1, 64));
  app.add_flag("--json", classify.json, "One JSON line per image: {\"image\",\"top_k\":[{index,label,score}]}");
  app.add_option("--crop", classify.crop, "Crop before resize")->check(CLI::IsMember({"none", "center"}));
  app.add_option("--mean", classify.mean, "Per-channel R,G,B mean (pixel units)")->delimiter(',')->expected(3)->allow_extra_args(false);
  app.add_option("--std", classify.std, "Per-channel R,G,B std (pixel units)")->delimiter(',')->expected(3)->allow_extra_args(false);
  app.add_option("images", classify.images, "Image files")->required();

  app.add_option("--backend", classify.backend,
                 "xnnpack: XNNPACK operators where they run the node (outputs within a few LSB of TFLite's\n"
                 "reference); reference: TFLite's reference integer arithmetic, byte-exact")
      ->check(CLI::IsMember({"xnnpack", "reference"}));
  CLI11_PARSE(app, argc, argv);
  try {
    return RunClassify(classify);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lookout classify: %s\n", e.what());
    return 1;
  }
}
