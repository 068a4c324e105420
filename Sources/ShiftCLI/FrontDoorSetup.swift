import DeploymentEngine
import Runtime
import TemplateModel

extension FrontDoorRouter {
    /// The router `serve` and `deploy --http-port` use: a request answered 502 because of its function is
    /// reported on stderr with the function's error.
    static func logging(routes: [FrontDoorRoute], service: LambdaService, template: Template) -> FrontDoorRouter {
        FrontDoorRouter(routes: routes, service: service, accountId: template.pseudoParameters.accountId,
                        region: template.pseudoParameters.region) { function, message in
            Terminal.standard.write("front door: 502 Internal server error for \(function): \(message)\n", to: .error)
        }
    }
}
