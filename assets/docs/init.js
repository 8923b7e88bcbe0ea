// Starts Swagger UI on /openapi.json. A file, not an inline script: the API's CSP allows only
// scripts it serves. No validator badge (it would call validator.swagger.io).
/* global window, SwaggerUIBundle */
window.addEventListener('load', () => {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    defaultModelsExpandDepth: 0,
  });
});
