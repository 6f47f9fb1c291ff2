import './base.css';
import './published.css';
