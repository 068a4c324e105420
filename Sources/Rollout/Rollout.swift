/// Namespace marker for the pure rollout module.
public enum RolloutModule {}
