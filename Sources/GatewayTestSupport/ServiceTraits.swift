import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test (or every test of the suite) where `requirements` are met, and always under
    /// `scripts/test.sh` and CI, where a missing service then fails it. Elsewhere it is skipped with
    /// a note, and counted in the line the test process prints when it exits.
    package static func requires(_ requirements: TestRequirement...) -> Self {
        .enabled(Comment(rawValue: TestEnvironment.skipNote(requirements))) { TestEnvironment.runs(requirements) }
    }
}
