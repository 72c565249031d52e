"""Constants shared by the stand-in's tests (a module, not conftest, so tests can import it by name)."""

API_KEY = "test-api-key"
API_SECRET = "test-api-secret"
SHOP = "demo.myshopify.com"
