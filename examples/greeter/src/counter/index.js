let count = 0;

exports.handler = async (event, context) => {
  count += (event && event.by) || 1;
  return { count, requestId: context.awsRequestId, version: context.functionVersion };
};
