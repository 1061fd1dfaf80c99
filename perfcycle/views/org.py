def department_tree(request): raise NotImplementedError
def department_detail(request, pk): raise NotImplementedError
def department_children(request, pk): raise NotImplementedError
def directory(request): raise NotImplementedError
def directory_export(request): raise NotImplementedError
def employee_profile(request, pk): raise NotImplementedError
