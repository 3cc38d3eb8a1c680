// Classification of real photos: the bundled default model, through the same
// Classifier lookoutd and `lookout classify` use, against the acceptable
// ImageNet labels a person assigned in ../shared/images/labels.json.
#include "support/catch_compat.h"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "classifier/classifier.h"
#include "support/test_support.h"

namespace ld = lookout::daemon;
using lookout::testing::SharedDir;
using lookout::testing::SourceDir;

namespace {

nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("the default model labels at least 80% of the shared photos acceptably", "[classify]") {
  std::string why;
  if (!lookout::testing::HaveShared("images", &why)) LOOKOUT_SKIP(why);
  const auto images = SharedDir() / "images";
  const nlohmann::json acceptable = ReadJson(images / "labels.json");
  REQUIRE(acceptable.size() >= 10);

  ld::ClassifierOptions options;
  options.model = SourceDir() / "models" / "mobilenet_v2_1.0_224_quant.tflite";
  options.labels = SourceDir() / "models" / "imagenet_labels.txt";
  options.top_k = 1;
  ld::Classifier classifier(options);

  size_t correct = 0;
  for (const auto& [file, labels] : acceptable.items()) {
    const cv::Mat bgr = cv::imread((images / file).string(), cv::IMREAD_COLOR);
    INFO(file);
    REQUIRE_FALSE(bgr.empty());
    const auto result = classifier.Classify(bgr);
    REQUIRE(result.top_k.size() == 1);
    const std::string& top1 = result.top_k[0].label;
    const bool ok = std::find(labels.begin(), labels.end(), top1) != labels.end();
    UNSCOPED_INFO(file << ": top-1 \"" << top1 << "\"" << (ok ? "" : " (not acceptable)"));
    if (ok) ++correct;
  }
  INFO(correct << " of " << acceptable.size() << " acceptable");
  CHECK(correct * 5 >= acceptable.size() * 4);
}

TEST_CASE("scores are probabilities ranked highest first", "[classify]") {
  ld::ClassifierOptions options;
  options.model = SourceDir() / "models" / "mobilenet_v2_1.0_224_quant.tflite";
  options.labels = SourceDir() / "models" / "imagenet_labels.txt";
  options.top_k = 5;
  ld::Classifier classifier(options);
  const cv::Mat bgr = cv::imread((SourceDir() / "tests/data/images/parrot.jpg").string(), cv::IMREAD_COLOR);
  REQUIRE_FALSE(bgr.empty());
  const auto result = classifier.Classify(bgr);
  REQUIRE(result.top_k.size() == 5);
  double sum = 0.0;
  for (size_t i = 0; i < result.top_k.size(); ++i) {
    // A uint8 softmax output has scale 1/256 and zero point 0.
    CHECK(result.top_k[i].score >= 0.0);
    CHECK(result.top_k[i].score <= 1.0);
    if (i > 0) CHECK(result.top_k[i - 1].score >= result.top_k[i].score);
    sum += result.top_k[i].score;
  }
  CHECK(sum <= 1.0 + 1e-6);
  CHECK(result.top_k[0].label == "macaw");
}
