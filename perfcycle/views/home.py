def home(request):
    raise NotImplementedError
