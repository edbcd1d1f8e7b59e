# lit configuration for the aoarm tests: dialect, passes, models and the CLI.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "AOARM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.aoarm_obj_root, "tests")
# unit/ holds GoogleTest sources, run by ctest directly; Inputs/ folders
# hold files other tests read.
config.excludes = ["unit", "Inputs", "CMakeLists.txt", "lit.cfg.py"]

config.substitutions.append(("%models", os.path.join(config.aoarm_src_root, "models")))
config.substitutions.append(("%src", config.aoarm_src_root))
# The unit tests' small bundles and the emulated CUDA drivers built from
# them (tests/unit/KernelTests.cmake), for the CLI's device tests.
config.substitutions.append(
    ("%testbundles", os.path.join(config.aoarm_obj_root, "tests", "unit", "bundles")))
config.substitutions.append(
    ("%emucuda", os.path.join(config.aoarm_obj_root, "tests", "unit", "emucuda")))
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.aoarm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["aoarm-opt", "aoarmc", "aoarm"],
                                   [config.aoarm_tools_dir])

# Feature `cuda`: a GPU is present (tests/gpu folders are unsupported
# otherwise). `nvrtc`: NVRTC is available to compile kernels.
if os.path.exists("/dev/nvidia0") or os.path.exists("/dev/nvidiactl"):
    config.available_features.add("cuda")
if config.nvrtc_found:
    config.available_features.add("nvrtc")
