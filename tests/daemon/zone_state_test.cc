// Label groups and a zone's confirmed state, against sequences worked out by
// hand: which frame adopts a state, that single-frame flicker changes
// nothing, min_hold_s, groups' ON/OFF, the group score as a sum.
#include "zones/zone_state.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/catch_compat.h"

namespace lookout::daemon {
namespace {

using Clock = Confirmer::Clock;
using std::chrono::milliseconds;

Labels FiveLabels() {
  // background is dropped by FitTo(5): classes 0..4 = tabby, tiger cat, beagle, pug, sofa.
  const std::string text = "tabby\ntiger cat\nbeagle\npug\nsofa\n";
  const auto path = std::filesystem::temp_directory_path() / "lookout_zone_state_labels.txt";
  {
    std::ofstream out(path);
    out << text;
  }
  Labels labels = Labels::Load(path);
  std::filesystem::remove(path);
  return labels;
}

// cat = tabby + tiger cat (classes 0, 1), dog = beagle + pug (2, 3).
std::vector<LabelGroup> CatAndDog() {
  return LabelGroups::Parse(R"({"cat": ["tabby", "tiger cat"], "dog": ["beagle", "pug"]})", FiveLabels(), "g")
      .groups();
}

TEST_CASE("confirmer: a value is adopted on the confirm-th agreeing frame, flicker is ignored", "[zones]") {
  Confirmer c(3, Clock::duration::zero());
  const Clock::time_point t0{};
  // Frames: a a a b a b b b  -> adopted "a" at frame 3, "b" at frame 8.
  const std::vector<std::string> frames = {"a", "a", "a", "b", "a", "b", "b", "b"};
  const std::vector<bool> changed = {false, false, true, false, false, false, false, true};
  for (size_t i = 0; i < frames.size(); ++i) {
    CAPTURE(i);
    CHECK(c.Observe(frames[i], t0 + milliseconds(100 * i)) == changed[i]);
  }
  CHECK(c.value() == "b");
  CHECK(c.since() == t0 + milliseconds(700));
}

TEST_CASE("confirmer: with confirm 1 every change is adopted at once", "[zones]") {
  Confirmer c(1, Clock::duration::zero());
  CHECK(c.value().empty());
  CHECK(c.Observe("x", Clock::time_point{}));
  CHECK_FALSE(c.Observe("x", Clock::time_point{}));
  CHECK(c.Observe("y", Clock::time_point{}));
  CHECK(c.value() == "y");
}

TEST_CASE("confirmer: min_hold keeps a state until it has been held long enough", "[zones]") {
  Confirmer c(2, std::chrono::seconds(5));
  const Clock::time_point t0{};
  CHECK_FALSE(c.Observe("a", t0));
  CHECK(c.Observe("a", t0 + std::chrono::seconds(1)));  // adopted at 1 s: the first needs no hold
  CHECK_FALSE(c.Observe("b", t0 + std::chrono::seconds(2)));
  CHECK_FALSE(c.Observe("b", t0 + std::chrono::seconds(3)));  // confirmed, but held 2 s < 5 s
  CHECK_FALSE(c.Observe("b", t0 + std::chrono::seconds(5)));  // held 4 s
  CHECK(c.Observe("b", t0 + std::chrono::seconds(6)));        // held 5 s
  CHECK(c.value() == "b");
}

TEST_CASE("label groups: labels resolve to every class with that text, errors name group and label", "[zones]") {
  const Labels labels = FiveLabels();
  const LabelGroups groups =
      LabelGroups::Parse(R"({"cat": ["tabby", "tiger cat"], "dog": ["pug", "beagle"]})", labels, "g.json");
  REQUIRE(groups.groups().size() == 2);
  REQUIRE(groups.Find("cat") != nullptr);
  CHECK(groups.Find("cat")->classes == std::vector<int32_t>{0, 1});
  CHECK(groups.Find("dog")->classes == std::vector<int32_t>{2, 3});
  CHECK(groups.Find("bird") == nullptr);

  auto error = [&](const std::string& text) {
    try {
      LabelGroups::Parse(text, labels, "g.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK(error(R"({"cat": ["tabby", "lion"]})") == "label groups g.json: group \"cat\": no label \"lion\" in the label file");
  CHECK(error(R"(["tabby"])") == "label groups g.json: expected an object of group name -> array of labels");
  CHECK(error(R"({"big cat": ["tabby"]})") == "label groups g.json: group name \"big cat\" is not [A-Za-z0-9_-]+");
  CHECK(error(R"({"cat": []})") == "label groups g.json: group \"cat\": expected a non-empty array of labels");
  CHECK(error(R"({"cat": [1]})") == "label groups g.json: group \"cat\": expected label strings, got 1");
  CHECK_THAT(error("{"), lookout::testing::StartsWith("label groups g.json: invalid JSON"));
}

TEST_CASE("candidate: the best group reaching the threshold, scored as the sum of its classes", "[zones]") {
  ZoneSpec spec;
  spec.name = "sofa";
  spec.groups = CatAndDog();
  spec.threshold = 0.5;
  // cat = 0.25 + 0.25 = 0.5 (reaches 0.5), dog = 0.375 + 0.0625 = 0.4375.
  std::vector<double> scores = {0.25, 0.25, 0.375, 0.0625, 0.0625};
  ZoneCandidate c = Candidate(spec, scores, {});
  CHECK(c.state == "cat");
  CHECK(c.score == 0.5);
  CHECK(c.group_scores == std::vector<double>{0.5, 0.4375});
  // The top label alone (beagle, 0.375) would not have reached it.
  spec.threshold = 0.625;
  c = Candidate(spec, scores, {});
  CHECK(c.state == "none");
  CHECK(c.score == 0.5);
}

TEST_CASE("candidate: without groups, the top label when it reaches the threshold", "[zones]") {
  ZoneSpec spec;
  spec.threshold = 0.5;
  const std::vector<ClassScore> top = {{4, "sofa", 0.75}, {0, "tabby", 0.125}};
  CHECK(Candidate(spec, {}, top).state == "sofa");
  spec.threshold = 0.8;
  CHECK(Candidate(spec, {}, top).state == "none");
  CHECK(Candidate(spec, {}, {}).state == "none");
}

TEST_CASE("zone tracker: state and each group confirmed on their own", "[zones]") {
  ZoneSpec spec;
  spec.name = "sofa";
  spec.groups = CatAndDog();
  spec.threshold = 0.4;
  spec.confirm_frames = 2;
  ZoneTracker tracker(spec);
  const auto wall0 = std::chrono::system_clock::time_point{} + std::chrono::hours(1);
  const Clock::time_point t0{};
  // Frame scores (tabby, tiger cat, beagle, pug, sofa):
  //   1: cat 0.6, dog 0.1   -> candidate cat, cat ON, dog OFF
  //   2: cat 0.6, dog 0.1   -> state cat confirmed; cat ON, dog OFF confirmed
  //   3: cat 0.45, dog 0.5  -> candidate dog; cat ON (0.45 >= 0.4), dog ON
  //   4: cat 0.45, dog 0.5  -> state dog; dog ON confirmed; cat stays ON
  //   5: all 0.1            -> candidate none; cat OFF, dog OFF (first frame)
  //   6: cat 0.6, dog 0.1   -> cat again: no state change, the pending "none" is reset;
  //                            dog below 0.4 a second time: dog OFF confirmed
  const std::vector<std::vector<double>> frames = {
      {0.5, 0.1, 0.05, 0.05, 0.3}, {0.5, 0.1, 0.05, 0.05, 0.3}, {0.25, 0.2, 0.25, 0.25, 0.05},
      {0.25, 0.2, 0.25, 0.25, 0.05}, {0.05, 0.05, 0.05, 0.05, 0.8}, {0.5, 0.1, 0.05, 0.05, 0.3}};
  std::vector<ZoneTracker::Changes> changes;
  for (size_t i = 0; i < frames.size(); ++i) {
    const ZoneCandidate c = Candidate(tracker.spec(), frames[i], {});
    changes.push_back(tracker.Update(c, {}, 100 + i, wall0 + std::chrono::seconds(i), t0 + std::chrono::seconds(i)));
  }
  CHECK_FALSE(changes[0].any());
  CHECK(changes[1].state);
  CHECK(changes[1].groups == std::vector<size_t>{0, 1});
  CHECK_FALSE(changes[2].any());
  CHECK(changes[3].state);
  CHECK(changes[3].groups == std::vector<size_t>{1});
  CHECK_FALSE(changes[4].any());
  CHECK_FALSE(changes[5].state);
  CHECK(changes[5].groups == std::vector<size_t>{1});
  CHECK(tracker.state() == "dog");
  CHECK(tracker.seq() == 103);
  CHECK(tracker.since() == wall0 + std::chrono::seconds(3));
  CHECK(tracker.score() == 0.5);
  CHECK(tracker.group_state(0) == "ON");
  CHECK(tracker.group_state(1) == "OFF");
}

}  // namespace
}  // namespace lookout::daemon
