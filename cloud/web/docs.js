// Swagger UI on the aggregator's own OpenAPI document, from the packaged bundle (no CDN).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout", validatorUrl: null,
    withCredentials: true});
});
