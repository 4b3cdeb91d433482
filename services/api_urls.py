app_name = "services-api"

urlpatterns: list = []
