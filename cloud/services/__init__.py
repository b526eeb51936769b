"""The aggregator's services: what the HTTP routers, the CLI and the consumer call.

- :mod:`~cloud.services.alerting`: events grouped into alert cards where they are committed.
- :mod:`~cloud.services.alerts`: the alert workflow and false alarms (``AlertService``).
- :mod:`~cloud.services.accounts`: users, sessions, API keys, audit (``AccountService``).
- :mod:`~cloud.services.events`: event pages and evidence images (``EventService``).
- :mod:`~cloud.services.cameras`, :mod:`~cloud.services.nodes`: cameras and node states.
- :mod:`~cloud.services.reports`: the citizen-report intake (``ReportsService``);
  :mod:`~cloud.services.report_desk`: the operators' audited actions on reports.

Services raise :mod:`cloud.services.errors`; :mod:`cloud.api.errors` maps them to HTTP. Routers
get the services through the ``Annotated`` aliases of :mod:`cloud.api.deps`.
"""
