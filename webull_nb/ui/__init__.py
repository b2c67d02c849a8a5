"""Views: the anywidget panel and its pure view model, the IPython magics."""
