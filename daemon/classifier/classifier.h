// Classifier: one model on one thread, from a BGR frame to a top-k list.
// Used by `lookout classify` and by lookoutd's inference worker.
//
// Ownership: owns its Interpreter and Preprocessor. Threading: not
// thread-safe; use one Classifier per thread. Errors: the constructor throws
// std::runtime_error naming the model, label file or tensor at fault;
// Classify() throws std::invalid_argument for an unusable image and
// std::runtime_error when Invoke() fails (the message names the node).
#ifndef LOOKOUT_DAEMON_CLASSIFIER_CLASSIFIER_H_
#define LOOKOUT_DAEMON_CLASSIFIER_CLASSIFIER_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "classifier/class_score.h"
#include "lookout/capture/frame.h"
#include "classifier/preprocessor.h"
#include "lookout/runtime/interpreter.h"

namespace lookout::daemon {

/// Labels for the output classes: one per line. When the file has exactly one
/// line more than the model has classes and that line is "background", the
/// first line is dropped (1001-line ImageNet files with 1000-class models).
class Labels {
 public:
  Labels() = default;
  /// Reads `path`; throws std::runtime_error when unreadable or empty.
  static Labels Load(const std::filesystem::path& path);
  /// Adapts the label list to a model with `classes` outputs; throws
  /// std::runtime_error when the counts cannot be reconciled.
  void FitTo(size_t classes, const std::string& source);
  /// The label of class `index`, or the index as text when there is none.
  std::string operator[](size_t index) const;
  size_t size() const { return labels_.size(); }

 private:
  std::vector<std::string> labels_;
};

/// Every element of a quantized (UINT8/INT8) or FLOAT32 output vector as a
/// score: scale × (q − zero_point), or the float itself. Throws
/// std::runtime_error for other types.
std::vector<double> Dequantize(std::span<const uint8_t> output, const runtime::TensorDetails& details);

/// Top-k of dequantized scores: ties go to the lower index; entries below
/// `threshold` are left out.
std::vector<ClassScore> TopK(std::span<const double> scores, const Labels& labels, int32_t k, double threshold);

/// TopK(Dequantize(output, details), ...).
std::vector<ClassScore> TopK(std::span<const uint8_t> output, const runtime::TensorDetails& details,
                             const Labels& labels, int32_t k, double threshold);

struct ClassifierOptions {
  std::filesystem::path model;
  std::filesystem::path labels;  ///< Empty: no labels (indices only).
  runtime::InterpreterOptions interpreter;  ///< Threads and kernel families.
  PreprocessOptions preprocess;
  int32_t top_k = 5;
  double score_threshold = -1e300;  ///< Keep everything by default.
};

/// A classification and the time its stages took.
struct Classification {
  std::vector<ClassScore> top_k;
  std::vector<double> scores;  ///< Every class's dequantized score, by class index.
  double preprocess_ms = 0.0;
  double inference_ms = 0.0;
};

class Classifier {
 public:
  explicit Classifier(const ClassifierOptions& options);
  /// Preprocesses `bgr` into the input tensor, invokes, and ranks the output.
  Classification Classify(const cv::Mat& bgr);
  /// The same for a captured frame in any layout (Preprocessor::Run(const
  /// Frame&)); the conversion counts as preprocessing.
  Classification Classify(const capture::Frame& frame);

  const runtime::TensorDetails& input_details() const { return interpreter_->input_details(0); }
  const runtime::TensorDetails& output_details() const { return interpreter_->output_details(0); }
  const Preprocessor& preprocessor() const { return *preprocessor_; }
  /// Model name: the model file's stem.
  const std::string& model_name() const { return model_name_; }
  size_t arena_bytes() const { return interpreter_->arena_bytes(); }
  /// The labels, fitted to the model's classes (empty without a label file).
  const Labels& labels() const { return labels_; }
  /// The interpreter Classify() invokes (prepared), e.g. to inspect nodes.
  runtime::Interpreter& interpreter() { return *interpreter_; }

 private:
  ClassifierOptions options_;
  std::string model_name_;
  std::unique_ptr<runtime::Interpreter> interpreter_;
  std::unique_ptr<Preprocessor> preprocessor_;
  Labels labels_;

  // Invokes the model on the input tensor Classify() filled, and ranks the output.
  Classification Finish(Classification result);
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_CLASSIFIER_CLASSIFIER_H_
