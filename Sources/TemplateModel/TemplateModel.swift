/// Namespace marker for the template model module.
public enum TemplateModelModule {}
