"""e3nn imported through equispec leaves ``torch._dynamo`` out until something needs it (issue 24)."""

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_models_build_and_run_without_importing_dynamo():
    out = run("""
        import sys
        import torch
        from equispec.inference.loading import load_predictor
        from e3nn.o3._wigner import change_basis_real_to_complex
        predictor = load_predictor("phdos")
        prediction = predictor.predict(["data/examples/Si.cif"])[0]
        print("dynamo" if "torch._dynamo" in sys.modules else "no-dynamo")
        before = change_basis_real_to_complex(2)
        import torch._dynamo  # now the decorator is torch's own
        after = change_basis_real_to_complex(2)
        print(torch.equal(before, after), getattr(change_basis_real_to_complex, "__wrapped__", None) is not None)
    """)
    assert out.split() == ["no-dynamo", "True", "True"]


def test_the_deferred_decorator_disables_compilation_once_dynamo_is_there():
    out = run("""
        import torch
        from equispec.nn._e3nn import disable_when_compiling

        calls = []

        @disable_when_compiling
        def f(x):
            calls.append(torch.compiler.is_compiling())
            return x + 1

        compiled = torch.compile(lambda x: f(x) * 2, backend="eager")
        print(float(compiled(torch.ones(1))[0]), calls)
    """)
    assert out.split() == ["4.0", "[False]"]  # f ran eagerly, outside the compiled graph
