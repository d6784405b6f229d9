# Sphinx configuration of the rendered book (python -m scale_lib.book.site copies this folder, the executed
# notebooks, the glossary and references.bib into build/site-src/ and builds build/site/).
project = "scale_lib — tiny scale parameters inside transformers"
author = "the scale_lib authors"
copyright = "2026, the scale_lib authors (MIT)"
# MathJax from the installed sphinx-mathjax-offline package: formulas render with no network
extensions = ["myst_nb", "sphinx-mathjax-offline", "sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon"]
# the API reference (api.md): generated from the Google-style docstrings
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
napoleon_google_docstring = True
nb_execution_mode = "off"  # render the executed copies; never run a notebook during the build
nb_render_widget_state = True  # widgets keep the state they had when the notebook ran (needs a kernel to move)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = "scale_lib"
html_static_path = ["_static"]
html_css_files = ["book.css"]
html_js_files = ["book.js"]
html_context = {"repository": "scale-lib/scale_lib"}  # overridden by scale_lib.book.site from pyproject.toml
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_source_button": False,
    "navigation_with_keys": False,
}


def _repo_links(app, config):
    repo = config.html_context.get("repository", "scale-lib/scale_lib")
    config.html_theme_options["repository_url"] = f"https://github.com/{repo}"
    config.html_theme_options["use_repository_button"] = True
    config.html_theme_options["path_to_docs"] = "notebooks"
    config.html_theme_options["launch_buttons"] = {"colab_url": "https://colab.research.google.com", "notebook_interface": "jupyterlab"}
    config.html_theme_options["repository_branch"] = "main"


def setup(app):
    app.connect("config-inited", _repo_links)

