// Swagger UI over Roost's own OpenAPI document; no validator or other site is contacted.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null,
                          deepLinking: true});
});
