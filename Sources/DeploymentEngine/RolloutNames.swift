import Rollout

// The module and its main type are both called `Rollout`, and Runtime has its own `MetricDatapoint`;
// these names keep files that import both modules unambiguous.
public typealias AlarmStatistic = Statistic
public typealias AlarmDatapoint = MetricDatapoint
