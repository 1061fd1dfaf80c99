def org_import(request): raise NotImplementedError
def org_import_detail(request, pk): raise NotImplementedError
