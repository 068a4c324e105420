/// Namespace marker for the local Lambda runtime module.
public enum RuntimeModule {}
