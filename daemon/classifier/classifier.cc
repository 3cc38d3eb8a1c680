#include "classifier/classifier.h"

#include "cli/model_tools.h"

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace lookout::daemon {
namespace {

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Labels Labels::Load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read label file " + path.string() + ": " + std::strerror(errno));
  Labels labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.labels_.push_back(line);
  }
  while (!labels.labels_.empty() && labels.labels_.back().empty()) labels.labels_.pop_back();
  if (labels.labels_.empty()) throw std::runtime_error("label file " + path.string() + " is empty");
  return labels;
}

void Labels::FitTo(size_t classes, const std::string& source) {
  if (labels_.empty() || labels_.size() == classes) return;
  if (labels_.size() == classes + 1 && labels_.front() == "background") {
    labels_.erase(labels_.begin());
    return;
  }
  throw std::runtime_error("label file " + source + " has " + std::to_string(labels_.size()) +
                           " labels but the model has " + std::to_string(classes) + " classes");
}

std::string Labels::operator[](size_t index) const {
  return index < labels_.size() ? labels_[index] : std::to_string(index);
}

std::vector<double> Dequantize(std::span<const uint8_t> output, const runtime::TensorDetails& details) {
  const size_t count = output.size() / std::max<size_t>(1, runtime::DataTypeSize(details.type));
  std::vector<double> scores(count);
  for (size_t i = 0; i < count; ++i) {
    switch (details.type) {
      case runtime::DataType::kUInt8:
        scores[i] = static_cast<double>(details.scale) * (static_cast<int32_t>(output[i]) - details.zero_point);
        break;
      case runtime::DataType::kInt8:
        scores[i] = static_cast<double>(details.scale) *
                    (static_cast<int32_t>(static_cast<int8_t>(output[i])) - details.zero_point);
        break;
      case runtime::DataType::kFloat32: {
        float f;
        std::memcpy(&f, output.data() + i * sizeof(float), sizeof(f));
        scores[i] = f;
        break;
      }
      default:
        throw std::runtime_error("output type " + runtime::DataTypeName(details.type) + " is not a score vector");
    }
  }
  return scores;
}

std::vector<ClassScore> TopK(std::span<const double> scores, const Labels& labels, int32_t k, double threshold) {
  const size_t count = scores.size();
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), count);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](size_t a, size_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
  std::vector<ClassScore> top;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = order[i];
    if (scores[index] < threshold) break;
    top.push_back({static_cast<int32_t>(index), labels[index], scores[index]});
  }
  return top;
}

std::vector<ClassScore> TopK(std::span<const uint8_t> output, const runtime::TensorDetails& details,
                             const Labels& labels, int32_t k, double threshold) {
  return TopK(Dequantize(output, details), labels, k, threshold);
}

Classifier::Classifier(const ClassifierOptions& options) : options_(options) {
  model_name_ = options.model.stem().string();
  interpreter_ = LoadInterpreter(options.model, options.interpreter);
  if (interpreter_->input_count() != 1 || interpreter_->output_count() < 1) {
    throw std::runtime_error("model '" + options.model.string() + "' has " +
                             std::to_string(interpreter_->input_count()) +
                             " inputs; a classifier has one image input");
  }
  try {
    preprocessor_ = std::make_unique<Preprocessor>(interpreter_->input_details(0), options.preprocess);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("model '" + options.model.string() + "': " + e.what());
  }
  const auto& out = interpreter_->output_details(0);
  const size_t classes = out.shape.empty() ? 1 : static_cast<size_t>(out.shape.back());
  if (!options.labels.empty()) {
    labels_ = Labels::Load(options.labels);
    labels_.FitTo(classes, options.labels.string());
  }
}

Classification Classifier::Classify(const cv::Mat& bgr) {
  Classification result;
  const auto start = std::chrono::steady_clock::now();
  preprocessor_->Run(bgr, interpreter_->input_data(0));
  result.preprocess_ms = MillisecondsSince(start);
  return Finish(std::move(result));
}

Classification Classifier::Classify(const capture::Frame& frame) {
  Classification result;
  const auto start = std::chrono::steady_clock::now();
  preprocessor_->Run(frame, interpreter_->input_data(0));
  result.preprocess_ms = MillisecondsSince(start);
  return Finish(std::move(result));
}

Classification Classifier::Finish(Classification result) {
  const auto start = std::chrono::steady_clock::now();
  const auto status = interpreter_->Invoke();
  if (!status.ok()) throw std::runtime_error(status.message());
  result.inference_ms = MillisecondsSince(start);
  result.scores = Dequantize(interpreter_->output_data(0), interpreter_->output_details(0));
  result.top_k = TopK(result.scores, labels_, options_.top_k, options_.score_threshold);
  return result;
}

}  // namespace lookout::daemon
