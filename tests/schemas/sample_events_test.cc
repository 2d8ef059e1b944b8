#include "tests/support/sample_events.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <variant>

namespace rwd {
namespace {

using test::SampleEvents;

TEST(SampleEventsTest, CoverEveryBodyType) {
  std::set<std::size_t> seen;
  for (const Event& event : SampleEvents()) seen.insert(event.body.index());
  EXPECT_EQ(seen.size(), std::variant_size_v<EventBody>);
}

TEST(SampleEventsTest, AreTheSameOnEveryCall) { EXPECT_EQ(SampleEvents(), SampleEvents()); }

TEST(SampleEventsTest, IncludeEventsWithAndWithoutAnActor) {
  std::set<bool> has_actor;
  for (const Event& event : SampleEvents()) has_actor.insert(event.actor.has_value());
  EXPECT_EQ(has_actor.size(), 2u);
}

RC_GTEST_PROP(SampleEventsTest, GeneratedDefinitionsOnlyDependOnOtherSteps,
              (const RunStarted& start)) {
  for (std::size_t i = 0; i < start.steps.size(); ++i) {
    RC_ASSERT(!start.steps[i].id.empty());
    for (std::uint32_t dep : start.steps[i].depends_on) {
      RC_ASSERT(dep < start.steps.size());
      RC_ASSERT(dep != i);
    }
  }
}

RC_GTEST_PROP(SampleEventsTest, GeneratedForksOnlyReferToStepsOfTheirDefinition,
              (const RunForked& fork)) {
  RC_ASSERT(fork.from_step < fork.start.steps.size());
  for (const StepOutput& kept : fork.kept) RC_ASSERT(kept.step < fork.start.steps.size());
}

TEST(SampleEventsTest, ForksOnlyReferToStepsOfTheirDefinition) {
  for (const Event& event : SampleEvents()) {
    const auto* fork = std::get_if<RunForked>(&event.body);
    // One naming a stored definition holds no steps to refer to.
    if (fork == nullptr || fork->start.definition_stored) continue;
    EXPECT_LT(fork->from_step, fork->start.steps.size());
    for (const StepOutput& kept : fork->kept) EXPECT_LT(kept.step, fork->start.steps.size());
  }
}

RC_GTEST_PROP(SampleEventsTest, GeneratedEventsHaveTheCurrentSchemaVersion, (const Event& event)) {
  RC_ASSERT(event.schema_version == kSchemaVersion);
}

}  // namespace
}  // namespace rwd
