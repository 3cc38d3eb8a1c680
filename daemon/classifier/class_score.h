// One class of a top-k list, as the classifier ranks it and the result
// event carries it.
#ifndef LOOKOUT_DAEMON_CLASSIFIER_CLASS_SCORE_H_
#define LOOKOUT_DAEMON_CLASSIFIER_CLASS_SCORE_H_

#include <cstdint>
#include <string>

namespace lookout::daemon {

struct ClassScore {
  int32_t index = 0;   ///< Output element index (class id).
  std::string label;   ///< Label text; the index as text when there is no label file.
  double score = 0.0;  ///< Dequantized score: scale × (q − zero_point).
};

}  // namespace lookout::daemon

#endif  // LOOKOUT_DAEMON_CLASSIFIER_CLASS_SCORE_H_
