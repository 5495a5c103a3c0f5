"""The only code that imports both streamlit and core: resources, session state, widgets."""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# Streamlit assumes the old "pages/ folder" routing until app.py's st.navigation has run once
# in this server. A first visitor arriving on a deep link (e.g. /compare) would get that page
# run on its own, without the app's navigation and layout. Every page imports ui, so switching
# the old routing off here and rerunning sends that visit through app.py like all others.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
