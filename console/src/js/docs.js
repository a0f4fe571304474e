// The API reference: Swagger UI (bundled from npm, never a CDN) over the merged openapi.json.
/* global SwaggerUIBundle */
window.addEventListener("DOMContentLoaded", () => {
  SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // no call to swagger.io's validator
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
